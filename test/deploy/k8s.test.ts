// The Kubernetes manifests (deploy/k8s, kustomize) without a cluster: every overlay is rendered with
// `kubectl kustomize`, every object validated against the Kubernetes schemas (kubernetes-models), the
// wiring checked (selectors, probes, Secret and ConfigMap references, the HPA's range), and the dev
// overlay run for real with `podman kube play`: Redis and a Chorus node that takes a write.
// podman 4.3 needs three adjustments, made to the rendered copy only: the Secret's data becomes a
// podman secret (podman reads a secretKeyRef from a podman secret holding the `data` map as JSON,
// and cannot read back the one it makes of a Secret in the file itself), every containerPort is published on
// 127.0.0.1 at a free port (it would publish it on 0.0.0.0 at the same port), and the Redis URL
// names the Redis pod (podman's DNS knows pods, not Services).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { parseAllDocuments, stringify } from 'yaml';
import { freePort } from '../../src/cluster/ports.ts';
import { restApi } from './apis.ts';
import { Cleanup, eventually, IMAGE, must, podman, ROOT } from './harness.ts';
import { Http } from '../helpers/http.ts';

/* eslint-disable @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call --
   rendered manifests are untyped YAML: the schemas validate them, the test reads them loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = any;

/** The kinds the manifests may hold, by apiVersion/kind; anything else fails the test. */
const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
};

async function render(dir: string): Promise<Obj[]> {
  const text = await must('kubectl', ['kustomize', dir], { timeoutMs: 60_000 });
  return parseAllDocuments(text).map((d): Obj => d.toJSON() as unknown);
}

/** Schema validation of every object, then the wiring between them. */
function check(objects: Obj[], overlay: string): void {
  for (const o of objects) {
    const Model = MODELS[`${o.apiVersion}/${o.kind}`];
    assert.ok(Model, `${overlay}: unexpected ${o.apiVersion} ${o.kind}`);
    assert.doesNotThrow(
      () => new Model(o).validate(),
      `${overlay}: ${o.kind} ${o.metadata?.name} is not valid`,
    );
  }
  const find = (kind: string, name: string): Obj => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(found, `${overlay}: no ${kind} ${name}`);
    return found;
  };
  const chorus = find('Deployment', 'chorus');
  const pod = chorus.spec.template.spec;
  const labels = chorus.spec.template.metadata.labels;
  const selects = (selector: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);
  assert.ok(selects(chorus.spec.selector.matchLabels));
  assert.ok(selects(find('Service', 'chorus').spec.selector), 'the Service selects the nodes');
  assert.ok(
    selects(find('PodDisruptionBudget', 'chorus').spec.selector.matchLabels),
    'the PDB selects the nodes',
  );
  const [container] = pod.containers;
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.ok(container.resources.requests.cpu, 'a CPU request (the HPA computes utilisation from it)');
  assert.ok(container.resources.limits.memory);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const hpa = find('HorizontalPodAutoscaler', 'chorus');
  assert.equal(hpa.spec.scaleTargetRef.name, 'chorus');
  assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
  // Every Secret key and ConfigMap the pods name exists.
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    for (const c of d.spec.template.spec.containers) {
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref)
          assert.ok(
            find('Secret', ref.name).data?.[ref.key],
            `${overlay}: secret key ${ref.name}/${ref.key}`,
          );
      }
      for (const f of c.envFrom ?? []) if (f.configMapRef) find('ConfigMap', f.configMapRef.name);
    }
  }
}

void test('kustomize overlays render and validate against the Kubernetes schemas', async () => {
  const dev = await render(join(ROOT, 'deploy/k8s/overlays/dev'));
  check(dev, 'dev');
  // production reads its secrets from a file that is never committed: render a copy with one.
  const dir = await mkdtemp(join(tmpdir(), 'chorus-k8s-'));
  try {
    await cp(join(ROOT, 'deploy/k8s'), join(dir, 'k8s'), { recursive: true });
    await writeFile(
      join(dir, 'k8s/overlays/production/secrets.env'),
      `chorus-secret=${randomUUID()}\nredis-password=${randomUUID()}\n`,
    );
    const production = await render(join(dir, 'k8s/overlays/production'));
    check(production, 'production');
    const hpa = production.find((o) => o.kind === 'HorizontalPodAutoscaler');
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [2, 10]);
    for (const o of production) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, 'chorus');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

void test('the validation catches a broken manifest', async () => {
  const [deployment] = (await render(join(ROOT, 'deploy/k8s/overlays/dev'))).filter(
    (o) => o.kind === 'Deployment',
  );
  deployment.spec.replicas = 'two';
  assert.throws(() => check([deployment], 'broken'));
});

void test(
  'podman kube play runs the dev overlay: Redis and a Chorus node taking writes',
  { timeout: 180_000 },
  async (t) => {
    const cleanup = new Cleanup();
    t.after(() => cleanup.run());
    const objects = await render(join(ROOT, 'deploy/k8s/overlays/dev'));
    const tag = randomUUID().slice(0, 8);
    const network = `chorus-deploy-test-kube-${tag}`;
    await podman('network', 'create', network);
    cleanup.add(() => podman('network', 'rm', '-f', network));

    const secret = objects.find((o) => o.kind === 'Secret');
    await must('sh', [
      '-c',
      `printf '%s' "$0" | podman secret create ${secret.metadata.name} -`,
      JSON.stringify(secret.data),
    ]);
    cleanup.add(() => podman('secret', 'rm', secret.metadata.name));
    const play = objects.filter((o) => ['Deployment', 'ConfigMap', 'PersistentVolumeClaim'].includes(o.kind));
    const published: Record<string, number> = {};
    for (const d of play.filter((o) => o.kind === 'Deployment')) {
      for (const c of d.spec.template.spec.containers) {
        for (const p of c.ports ?? []) {
          p.hostIP = '127.0.0.1';
          p.hostPort = published[`${d.metadata.name}/${p.name}`] = await freePort();
        }
      }
    }
    const config = play.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'chorus-config');
    config.data.CHORUS_REDIS_URL = config.data.CHORUS_REDIS_URL.replace('//redis:', '//redis-pod-0:');
    const chorus = play.find((o) => o.kind === 'Deployment' && o.metadata.name === 'chorus');
    assert.equal(chorus.spec.template.spec.containers[0].image, IMAGE);

    const dir = await mkdtemp(join(tmpdir(), 'chorus-kube-'));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'play.yaml');
    // Redis first: podman starts the pods in the file's order.
    play.sort((a, b) => Number(a.metadata.name === 'chorus') - Number(b.metadata.name === 'chorus'));
    await writeFile(file, play.map((o) => stringify(o)).join('---\n'));
    cleanup.add(() => podman('kube', 'down', file));
    cleanup.add(async () => {
      const volumes = play
        .filter((o) => o.kind === 'PersistentVolumeClaim')
        .map((o) => o.metadata.name as string);
      if (volumes.length > 0) await podman('volume', 'rm', '-f', ...volumes);
    });
    await must('podman', ['kube', 'play', '--network', network, file], { timeoutMs: 120_000 });

    const base = `http://127.0.0.1:${published['chorus/http']}`;
    const http = new Http(base);
    const ready = await eventually(
      async () => {
        const r = await http.get('/readyz');
        return r.status === 200 ? r : undefined;
      },
      'the played Chorus node to be ready (Redis reachable)',
      90_000,
    );
    assert.match(ready.text, /redis/);
    const api = restApi(base);
    const roomId = `kube-${tag}`;
    const token = await api.createRoom(roomId);
    const version = await api.addTrack(roomId, token, 'kube-1', randomUUID());
    const room = await http.get(`/v1/rooms/${roomId}?minVersion=${version}`);
    assert.deepEqual(
      (room.body as { queue: Array<{ track: { trackId: string } }> }).queue.map((e) => e.track.trackId),
      ['kube-1'],
    );
    // The container runs as the manifest says: uid 1000 on a read-only root filesystem.
    const container = (await podman('ps', '--filter', 'pod=chorus-pod-0', '--format', '{{.Names}}'))
      .split('\n')
      .find((n) => n.endsWith('-chorus'));
    assert.ok(container, 'the chorus container of chorus-pod-0');
    assert.equal((await podman('exec', container, 'id', '-u')).trim(), '1000');
    const write = await must('sh', ['-c', `podman exec ${container} touch /app/x 2>&1 || true`]);
    assert.match(write, /Read-only file system/);
  },
);
