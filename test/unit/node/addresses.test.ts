// Where guests can reach a node: LAN URLs of a wildcard bind, and the --public-url / demo catalog
// configuration.

import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { test } from 'node:test';
import { isWildcard, lanUrls, shareAddresses } from '../../../src/node/addresses.ts';
import { ConfigError, parseNodeConfig } from '../../../src/node/config.ts';

const info = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo => ({
  address,
  family,
  internal,
  netmask: '',
  mac: '',
  cidr: null,
  scopeid: 0,
});

void test('LAN URLs: external addresses, IPv4 first, no loopback or link-local', () => {
  const urls = lanUrls(8080, {
    lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
    eth0: [info('fd00::2', 'IPv6'), info('192.168.1.20', 'IPv4'), info('fe80::1', 'IPv6')],
    wlan0: [info('10.0.0.5', 'IPv4')],
  });
  assert.deepEqual(urls, ['http://192.168.1.20:8080', 'http://10.0.0.5:8080', 'http://[fd00::2]:8080']);
});

void test('only a wildcard bind offers LAN URLs; a public URL is passed on', () => {
  assert.equal(isWildcard('0.0.0.0'), true);
  assert.equal(isWildcard('::'), true);
  assert.equal(isWildcard('127.0.0.1'), false);
  assert.deepEqual(shareAddresses({ host: '127.0.0.1', port: 1, publicUrl: null }), {
    publicUrl: null,
    lanUrls: [],
  });
  const configured = shareAddresses({ host: '10.1.1.1', port: 1, publicUrl: 'https://x.example' });
  assert.equal(configured.publicUrl, 'https://x.example');
});

void test('--public-url is checked and kept without a trailing slash', () => {
  assert.equal(
    parseNodeConfig({ publicUrl: 'https://party.example.org/' }).publicUrl,
    'https://party.example.org',
  );
  assert.equal(parseNodeConfig({}).publicUrl, null);
  for (const bad of ['party.example.org', 'ftp://x.example', 'https://x.example/?a=1']) {
    assert.throws(() => parseNodeConfig({ publicUrl: bad }), ConfigError, bad);
  }
});

void test('the demo catalog is on by default, off with a music folder, unless asked for', () => {
  assert.equal(parseNodeConfig({}).demoCatalog, true);
  assert.equal(parseNodeConfig({ musicDir: '/music' }).demoCatalog, false);
  assert.equal(parseNodeConfig({ musicDir: '/music', demoCatalog: true }).demoCatalog, true);
  assert.equal(parseNodeConfig({ demoCatalog: false }).demoCatalog, false);
});
