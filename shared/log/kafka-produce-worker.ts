import { parentPort, workerData } from 'node:worker_threads';
// First: it replaces parts of kafkajs's produce path before kafkajs is loaded in this thread.
import './kafkajs-lean-produce.js';
import { CompressionTypes, Kafka, type ICustomPartitioner, type Message } from 'kafkajs';
import { kafkaClientConfig, producerConfig } from './kafka-client-config.js';
import { isTransient, reasonOf } from './kafka-errors.js';
import { partitionOfBytes } from './key-partitioner.js';
import { compressMinBytes, type CloseRequest, type ProducerThreadConfig, type SendReply, type SendRequest } from './kafka-produce-protocol.js';

/**
 * The producer thread: takes encoded batches from the main thread and sends each as one
 * produce request. Kafka protocol encoding, CRCs, compression and socket writes happen here,
 * away from the event loop that serves the users' requests.
 */
const config = workerData as ProducerThreadConfig;
const port = parentPort!;
const kafka = new Kafka(kafkaClientConfig(config.brokers, config.clientId));
// Idempotent: a batch retried after a lost acknowledgement keeps its sequence numbers, so the
// broker stores it once. That needs acks from all in-sync replicas and one request in flight.
const producer = kafka.producer({ ...producerConfig, createPartitioner: keyPartitioner, idempotent: true, maxInFlightRequests: 1 });
let connected: Promise<void> | null = null;

/**
 * kafkajs's DefaultPartitioner's choice for a keyed message (every message here has the request id
 * as its key), in 32-bit integer arithmetic: kafkajs's own murmur2 computes with BigInt-backed
 * longs, several µs a record.
 */
function keyPartitioner(): ReturnType<ICustomPartitioner> {
  return ({ partitionMetadata, message }) => partitionOfBytes(message.key as Buffer, partitionMetadata.length);
}

async function send(request: SendRequest): Promise<void> {
  connected ??= producer.connect().catch((error) => {
    connected = null;
    throw error;
  });
  await connected;
  const bytes = Buffer.from(request.bytes);
  const { bounds } = request;
  const count = (bounds.length - 1) / 2;
  // Kafka's timestamp is the time of this send (retention counts from it); the record's own time is inside it.
  const timestamp = String(Date.now());
  const messages = new Array<Message>(count);
  for (let i = 0; i < count; i++) {
    messages[i] = {
      key: bytes.subarray(bounds[2 * i], bounds[2 * i + 1]),
      value: bytes.subarray(bounds[2 * i + 1], bounds[2 * i + 2]),
      timestamp,
      headers: config.headers,
    };
  }
  const compress = config.compression === 'gzip' || (config.compression === 'auto' && bytes.length >= compressMinBytes);
  await producer.send({
    topic: config.topic,
    acks: -1,
    compression: compress ? CompressionTypes.GZIP : CompressionTypes.None,
    messages,
  });
}

port.on('message', (message: SendRequest | CloseRequest) => {
  if (message.type === 'close') {
    void producer.disconnect().catch(() => undefined).finally(() => port.close());
    return;
  }
  send(message).then(
    () => port.postMessage({ id: message.id } satisfies SendReply),
    (error: unknown) =>
      port.postMessage({
        id: message.id,
        error: { message: reasonOf(error), name: (error as Error)?.name ?? 'Error', transient: isTransient(error) },
      } satisfies SendReply),
  );
});
