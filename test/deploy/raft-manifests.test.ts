// The Raft deployment files without a cluster or containers: the Kubernetes overlay
// (deploy/k8s/overlays/raft) rendered with `kubectl kustomize` and validated against the schemas
// (kubernetes-models), then its wiring checked (peers by stable name through a headless Service that
// publishes unready pods, one volume per member, Parallel start, PDB maxUnavailable 1, probes, the
// Secret); and deploy/compose/raft.yml read as YAML (each member its own volume and id, --peers
// naming every member by service name on the image's gRPC port, nginx in front over the alias).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { must, ROOT } from './harness.ts';

/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return --
   rendered manifests are untyped YAML: the schemas validate them, the test reads them loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/Namespace': Namespace,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

/** `ID=HOST:PORT,…` as a map. */
function peersOf(text: string): Map<string, string> {
  return new Map(text.split(',').map((p) => p.split('=') as [string, string]));
}

void test('k8s raft overlay: a StatefulSet of members with stable peer names, volumes and a PDB', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-k8s-raft-'));
  try {
    await cp(join(ROOT, 'deploy/k8s'), join(dir, 'k8s'), { recursive: true });
    await writeFile(join(dir, 'k8s/overlays/raft/secrets.env'), `chorus-secret=${randomUUID()}\n`);
    const text = await must('kubectl', ['kustomize', join(dir, 'k8s/overlays/raft')], { timeoutMs: 60_000 });
    const objects = parseAllDocuments(text).map((d): Obj => d.toJSON() as unknown);
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      assert.ok(Model, `unexpected ${o.apiVersion} ${o.kind}`);
      assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata?.name} is not valid`);
    }
    const find = (kind: string, name: string): Obj => {
      const found = objects.find((o) => o.kind === kind && o.metadata.name.startsWith(name));
      assert.ok(found, `no ${kind} ${name}`);
      return found;
    };
    const sts = find('StatefulSet', 'chorus-raft');
    const pod = sts.spec.template.spec;
    const labels = sts.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>): boolean =>
      Object.entries(selector).every(([k, v]) => labels[k] === v);
    const peersSvc = find('Service', 'chorus-raft-peers');
    assert.equal(sts.spec.serviceName, 'chorus-raft-peers');
    assert.equal(peersSvc.spec.clusterIP, 'None', 'the peers Service is headless (one name per pod)');
    assert.equal(
      peersSvc.spec.publishNotReadyAddresses,
      true,
      'peers find each other before a leader exists',
    );
    assert.ok(selects(peersSvc.spec.selector));
    assert.ok(selects(find('Service', 'chorus-raft').spec.selector));
    assert.equal(sts.spec.podManagementPolicy, 'Parallel', 'no pod waits for another to be ready');
    const pdb = find('PodDisruptionBudget', 'chorus-raft');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(selects(pdb.spec.selector.matchLabels));

    const [c] = pod.containers;
    const env = new Map<string, Obj>(c.env.map((e: Obj) => [e.name, e]));
    assert.equal(env.get('CHORUS_STORE').value, 'raft');
    assert.equal(env.get('CHORUS_NODE_ID').valueFrom.fieldRef.fieldPath, 'metadata.name');
    const grpcPort = c.ports.find((p: Obj) => p.name === 'grpc').containerPort;
    const ns = sts.metadata.namespace;
    // Every replica is a peer, by its pod name, at its stable name in the headless Service.
    const peers = peersOf(env.get('CHORUS_PEERS').value);
    assert.deepEqual(
      [...peers.keys()],
      Array.from({ length: sts.spec.replicas }, (_, i) => `${sts.metadata.name}-${i}`),
    );
    for (const [id, address] of peers) assert.equal(address, `${id}.${peersSvc.metadata.name}:${grpcPort}`);
    assert.equal(peersSvc.metadata.namespace, ns);
    // One volume per member, mounted where the node keeps its data.
    assert.deepEqual(
      sts.spec.volumeClaimTemplates.map((v: Obj) => v.metadata.name),
      ['data'],
    );
    assert.equal(
      c.volumeMounts.find((m: Obj) => m.name === 'data').mountPath,
      env.get('CHORUS_DATA_DIR').value,
    );
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    const ref = env.get('CHORUS_SECRET').valueFrom.secretKeyRef;
    assert.ok(find('Secret', ref.name).data?.[ref.key], 'the cluster secret is in the Secret');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('compose raft.yml: three members, each its own volume and id, peers by service name', async () => {
  const file: Obj = parse(await readFile(join(ROOT, 'deploy/compose/raft.yml'), 'utf8'), { merge: true });
  const members = Object.entries(file.services as Record<string, Obj>).filter(
    ([, s]) => s.environment?.CHORUS_STORE === 'raft',
  );
  assert.equal(members.length, 3);
  const dockerfile = await readFile(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  const grpcPort = /^EXPOSE \d+ (\d+)$/m.exec(dockerfile)![1];
  const volumes = new Set<string>();
  for (const [name, s] of members) {
    assert.equal(s.environment.CHORUS_NODE_ID, name, 'a member’s id is its service name');
    const peers = peersOf(s.environment.CHORUS_PEERS);
    assert.deepEqual(
      [...peers].sort(),
      members.map(([n]) => [n, `${n}:${grpcPort}`]).sort(),
      `${name}: --peers names every member at its gRPC port`,
    );
    assert.equal(s.environment.CHORUS_SECRET_FILE, '/run/secrets/chorus_secret');
    assert.deepEqual(s.secrets, ['chorus_secret']);
    const [volume] = (s.volumes as string[]).map((v) => v.split(':'));
    assert.equal(volume![1], '/data');
    volumes.add(volume![0]!);
    assert.ok(file.volumes[volume![0]!] !== undefined, `${name}: its volume is declared`);
    assert.deepEqual(s.networks.default.aliases, ['chorus'], 'nginx balances over the alias');
  }
  assert.equal(volumes.size, 3, 'no two members share a volume');
  assert.match(String(file.services.nginx.command.join(' ')), /start\.sh rest$/);
  assert.deepEqual([...file.services.nginx.depends_on].sort(), members.map(([n]) => n).sort());
});
