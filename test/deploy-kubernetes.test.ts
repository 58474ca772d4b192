import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { checkConfigFile } from '../cli/config-hook.js';
import { packageRoot } from '../shared/package-root.js';
import { shadowtapInvocations, shadowtapProgram, unknownFlags } from './helpers/deploy-program.js';

/**
 * Structural checks of deploy/kubernetes, since no cluster or schema download is possible here:
 * each layout is composed the way kustomize does it, and every reference inside it (selectors,
 * ports, ConfigMaps, Secrets, claims, mesh hosts) must point at something the layout defines.
 */

type Manifest = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [key: string]: any };

const root = join(packageRoot(), 'deploy', 'kubernetes');
const knownKinds: Record<string, string[]> = {
  v1: ['ConfigMap', 'Secret', 'Service', 'PersistentVolumeClaim'],
  'apps/v1': ['Deployment'],
  'batch/v1': ['CronJob'],
  'networking.istio.io/v1beta1': ['VirtualService', 'DestinationRule'],
};

/** The manifests a kustomization directory builds, following directory resources as kustomize does. */
function compose(dir: string): Manifest[] {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return kustomization.resources.flatMap((resource) => {
    const path = resolve(dir, resource);
    assert.ok(existsSync(path), `${dir}/kustomization.yaml names ${resource}, which does not exist`);
    if (statSync(path).isDirectory()) return compose(path);
    return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
      assert.deepEqual(doc.errors, [], `${path} is not valid YAML`);
      return doc.toJS() as Manifest;
    });
  });
}

const layouts = { sidecar: compose(join(root, 'sidecar')), 'istio-mirror': compose(join(root, 'istio-mirror')), 'scale-out': compose(join(root, 'scale-out')), default: compose(root) };

function podSpecs(manifests: Manifest[]): { owner: string; labels: Record<string, string>; spec: any }[] {
  return manifests.flatMap((m) => {
    if (m.kind === 'Deployment') return [{ owner: `Deployment ${m.metadata.name}`, labels: m.spec.template.metadata.labels, spec: m.spec.template.spec }];
    if (m.kind === 'CronJob') {
      const template = m.spec.jobTemplate.spec.template;
      return [{ owner: `CronJob ${m.metadata.name}`, labels: template.metadata?.labels ?? {}, spec: template.spec }];
    }
    return [];
  });
}

const named = (manifests: Manifest[], kind: string, name: string) => manifests.find((m) => m.kind === kind && m.metadata.name === name);
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

for (const [layout, manifests] of Object.entries(layouts)) {
  test(`${layout}: every manifest has a known kind and a unique name`, () => {
    const seen = new Set<string>();
    for (const m of manifests) {
      assert.ok(knownKinds[m.apiVersion]?.includes(m.kind), `unknown ${m.apiVersion} ${m.kind}`);
      assert.match(m.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${m.kind} needs a DNS-1123 metadata.name`);
      const key = `${m.kind}/${m.metadata.name}`;
      assert.ok(!seen.has(key), `${key} is defined twice`);
      seen.add(key);
    }
  });

  test(`${layout}: Deployment selectors match their pod labels, Services select pods and reach a container port`, () => {
    for (const m of manifests.filter((d) => d.kind === 'Deployment')) {
      assert.ok(selects(m.spec.selector.matchLabels, m.spec.template.metadata.labels), `Deployment ${m.metadata.name}: selector does not match template labels`);
    }
    for (const service of manifests.filter((m) => m.kind === 'Service')) {
      const pods = podSpecs(manifests).filter((p) => selects(service.spec.selector, p.labels));
      assert.ok(pods.length > 0, `Service ${service.metadata.name} selects no pods`);
      for (const port of service.spec.ports) {
        const reached = pods.some((p) =>
          p.spec.containers.some((c: any) => (c.ports ?? []).some((cp: any) => cp.name === port.targetPort || cp.containerPort === port.targetPort)),
        );
        assert.ok(reached, `Service ${service.metadata.name}: targetPort ${port.targetPort} is no container port of its pods`);
      }
    }
  });

  test(`${layout}: every ConfigMap, Secret, key, claim and volume a pod uses exists`, () => {
    for (const { owner, spec } of podSpecs(manifests)) {
      const volumes = new Map<string, any>((spec.volumes ?? []).map((v: any) => [v.name, v]));
      for (const volume of volumes.values()) {
        if (volume.configMap) assert.ok(named(manifests, 'ConfigMap', volume.configMap.name), `${owner}: ConfigMap ${volume.configMap.name} missing`);
        if (volume.secret) assert.ok(named(manifests, 'Secret', volume.secret.secretName), `${owner}: Secret ${volume.secret.secretName} missing`);
        if (volume.persistentVolumeClaim) {
          assert.ok(named(manifests, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName), `${owner}: claim ${volume.persistentVolumeClaim.claimName} missing`);
        }
      }
      for (const container of spec.containers) {
        for (const mount of container.volumeMounts ?? []) assert.ok(volumes.has(mount.name), `${owner}/${container.name}: volume ${mount.name} missing`);
        for (const source of container.envFrom ?? []) {
          if (source.secretRef) assert.ok(named(manifests, 'Secret', source.secretRef.name), `${owner}: Secret ${source.secretRef.name} missing`);
          if (source.configMapRef) assert.ok(named(manifests, 'ConfigMap', source.configMapRef.name), `${owner}: ConfigMap ${source.configMapRef.name} missing`);
        }
        for (const env of container.env ?? []) {
          const ref = env.valueFrom?.secretKeyRef ?? env.valueFrom?.configMapKeyRef;
          if (!ref) continue;
          const kind = env.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
          const target = named(manifests, kind, ref.name);
          if (!target && ref.optional === true) continue;
          assert.ok(target, `${owner}: ${kind} ${ref.name} missing`);
          const keys = Object.keys({ ...target.data, ...target.stringData });
          assert.ok(keys.includes(ref.key), `${owner}: ${kind} ${ref.name} has no key ${ref.key}`);
        }
      }
    }
  });

  test(`${layout}: shadowtap containers run as non-root and use only flags their command has`, async (t) => {
    const program = await shadowtapProgram();
    for (const { owner, spec } of podSpecs(manifests)) {
      for (const container of spec.containers.filter((c: any) => c.image === 'shadowtap')) {
        assert.equal(container.securityContext?.runAsNonRoot, true, `${owner}/${container.name}: runAsNonRoot`);
        for (const argv of shadowtapInvocations(container.command, container.args)) {
          const problems = unknownFlags(program, argv);
          if (problems === null) t.diagnostic(`${owner}: command ${argv[0]} is not registered yet; its flags are not checked`);
          else assert.deepEqual(problems, [], `${owner}/${container.name}: unknown flags`);
        }
      }
    }
  });
}

test('the shadow runs with SHADOW_MODE=true and both layouts capture in front of stable', () => {
  for (const manifests of [layouts.sidecar, layouts['istio-mirror']]) {
    const shadow = named(manifests, 'Deployment', 'api-shadow')!;
    assert.ok(shadow.spec.template.spec.containers[0].env.some((e: any) => e.name === 'SHADOW_MODE' && e.value === 'true'));
  }
  const stable = named(layouts.sidecar, 'Deployment', 'api-stable')!;
  const capture = stable.spec.template.spec.containers.find((c: any) => c.name === 'capture');
  assert.ok(capture.args.join(' ').includes('--upstream http://127.0.0.1:8080'), 'the sidecar forwards to stable on localhost');
  assert.equal(named(layouts.sidecar, 'Service', 'api-stable')!.spec.ports[0].targetPort, 'capture', 'the Service goes through the capture sidecar');
});

test('istio-mirror: the VirtualService routes to stable and mirrors a share to an existing Service with a DestinationRule', () => {
  const manifests = layouts['istio-mirror'];
  const vs = named(manifests, 'VirtualService', 'api')!;
  for (const http of vs.spec.http) for (const route of http.route) assert.ok(named(manifests, 'Service', route.destination.host), `route host ${route.destination.host}`);
  const mirrored = vs.spec.http.filter((http: any) => http.mirror);
  assert.equal(mirrored.length, 1);
  for (const http of mirrored) {
    assert.ok(named(manifests, 'Service', http.mirror.host), `mirror host ${http.mirror.host} is no Service`);
    assert.ok(http.mirrorPercentage.value > 0 && http.mirrorPercentage.value <= 100);
    const service = named(manifests, 'Service', http.mirror.host)!;
    assert.ok(service.spec.ports.some((p: any) => p.port === http.mirror.port.number), 'mirror port is a port of the Service');
  }
  for (const rule of manifests.filter((m) => m.kind === 'DestinationRule')) assert.ok(named(manifests, 'Service', rule.spec.host), `DestinationRule host ${rule.spec.host}`);
});

test('istio-mirror: the replay asks stable as its reference, and stable is not mirrored the replayed requests again', () => {
  const manifests = layouts['istio-mirror'];
  const replay = named(manifests, 'Deployment', 'shadowtap-replay')!.spec.template.spec.containers[0];
  const ref = replay.env.find((e: any) => e.name === 'SHADOWTAP_REFERENCE').valueFrom.configMapKeyRef;
  const reference = new URL(named(manifests, 'ConfigMap', ref.name)!.data[ref.key]);
  assert.ok(named(manifests, 'Service', reference.hostname.split('.')[0]!), `the reference ${reference} is a Service of the layout`);
  assert.equal(reference.hostname.split('.')[0], 'api-stable');
  // The first route takes the replay's marked requests, without a mirror: no capture → replay → stable → mirror loop.
  const [first] = named(manifests, 'VirtualService', 'api')!.spec.http;
  assert.deepEqual(first.match, [{ headers: { 'x-shadowtap-replay': { exact: '1' } } }]);
  assert.equal(first.mirror, undefined);
  // The sidecar layout records stable's answers: no reference is set there.
  assert.equal(named(layouts.sidecar, 'ConfigMap', ref.name), undefined);
});

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test('the ConfigMap holds a config file that `shadowtap config check` accepts', async (t) => {
  const program = await shadowtapProgram();
  const configMap = named(layouts.default, 'ConfigMap', 'shadowtap-config')!;
  const text: string = configMap.data['shadowtap.yml'];
  const sections = Object.keys(parse(text) as object).filter((s) => s !== 'log');
  const missing = sections.filter((s) => !program.commands.some((c) => c.name() === s));
  if (missing.length > 0) return t.skip(`commands not registered yet: ${missing.join(', ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'shadowtap-k8s-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'shadowtap.yml'), text);
  assert.deepEqual(checkConfigFile(program, join(dir, 'shadowtap.yml')).problems, []);
});
