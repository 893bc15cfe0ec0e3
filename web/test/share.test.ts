// The share link's address (web/src/share.ts): the public URL first, a LAN address for a page on a
// loopback address, else the page's own address.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLoopbackHost, roomLink, shareBase } from '../src/share.ts';

const lan = { publicUrl: null, lanUrls: ['http://192.168.1.20:8080', 'http://[fd00::2]:8080'] };

void test('a page on a loopback address shares the first LAN address', () => {
  for (const origin of ['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080']) {
    assert.equal(shareBase(lan, origin), 'http://192.168.1.20:8080', origin);
  }
  assert.equal(
    roomLink(shareBase(lan, 'http://127.0.0.1:8080'), 'party'),
    'http://192.168.1.20:8080/r/party',
  );
});

void test('a page opened on a reachable address shares that address', () => {
  assert.equal(shareBase(lan, 'http://192.168.1.99:8080'), 'http://192.168.1.99:8080');
  assert.equal(shareBase(null, 'https://party.example.org'), 'https://party.example.org');
});

void test('a public URL wins over everything; without LAN addresses loopback stays', () => {
  const configured = { publicUrl: 'https://music.example.org/chorus/', lanUrls: lan.lanUrls };
  assert.equal(shareBase(configured, 'http://127.0.0.1:8080'), 'https://music.example.org/chorus');
  assert.equal(shareBase({ publicUrl: null, lanUrls: [] }, 'http://127.0.0.1:8080'), 'http://127.0.0.1:8080');
});

void test('loopback hosts are told apart from reachable ones', () => {
  for (const h of ['localhost', 'app.localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '0.0.0.0']) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ['192.168.1.2', '10.0.0.1', 'example.org', '[fd00::2]', 'localhost.example.org']) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});
