import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { scaleOutTopics } from '../diff/scale-out/state-topic.js';
import { defaultLogOptions } from '../shared/log/open-log.js';
import { packageRoot } from '../shared/package-root.js';

const dir = join(packageRoot(), 'deploy', 'kafka-connect');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('deploy/kafka-connect holds the Elasticsearch and OpenSearch sinks of the verdicts topic', () => {
  assert.deepEqual(files.sort(), ['verdicts-elasticsearch-sink.json', 'verdicts-opensearch-sink.json']);
});

for (const file of files) {
  test(`${file}: valid JSON of a Kafka Connect sink of committed verdicts, Avro through the schema registry`, () => {
    const connector = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { name: string; config: Record<string, string> };
    assert.match(connector.name, /^shadowtap-verdicts-/);
    const { config } = connector;
    for (const key of ['connector.class', 'tasks.max', 'topics', 'connection.url', 'key.converter', 'value.converter', 'value.converter.schema.registry.url', 'key.ignore']) {
      assert.equal(typeof config[key], 'string', `${file} lacks ${key}`);
    }
    // Connect's REST API takes every value as a string.
    for (const [key, value] of Object.entries(config)) assert.equal(typeof value, 'string', `${file}: ${key} is not a string`);
    assert.match(config['connector.class']!, /Elasticsearch|Opensearch/);
    assert.equal(config.topics, scaleOutTopics(defaultLogOptions.topicPrefix).verdicts);
    assert.ok(new URL(config['connection.url']!));
    assert.equal(config['value.converter'], 'io.confluent.connect.avro.AvroConverter', 'verdicts are Avro in the registry wire format (diff --group --schema-registry)');
    // Soak copies share a key (the capture id): documents are named by topic+partition+offset instead.
    assert.equal(config['key.ignore'], 'true');
    // Verdicts of an aborted transaction (a worker killed before its commit) are written again by the next owner: never index them.
    assert.equal(config['consumer.override.isolation.level'], 'read_committed');
  });
}
