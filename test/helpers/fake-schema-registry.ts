import { createServer } from 'node:http';
import { listenLocal } from './local-server.js';

export interface FakeSchemaRegistry {
  url: string;
  /** Registered schemas in id order (id = index + 1), as canonical JSON. */
  schemas: string[];
  /** `METHOD /path` of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A tiny registry implementing the two endpoints shadowtap uses, as Confluent's does:
 * POST /subjects/{subject}/versions → {"id"}, the same id for the same schema, and
 * GET /schemas/ids/{id} → {"schema"}. Subjects named `locked-*` refuse new schemas with 409.
 * No registry server installs from the package registries reachable here (Karapace has no
 * distribution on PyPI), so this stands in for one on the HTTP side only.
 */
export async function startFakeSchemaRegistry(): Promise<FakeSchemaRegistry> {
  const schemas: string[] = [];
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const send = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(value));
      const register = /^\/subjects\/([^/]+)\/versions$/.exec(req.url ?? '');
      const lookup = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && register) {
        if (decodeURIComponent(register[1]!).startsWith('locked-')) {
          return send(409, { error_code: 409, message: 'Schema being registered is incompatible with an earlier schema' });
        }
        const schema = JSON.stringify(JSON.parse((JSON.parse(body) as { schema: string }).schema));
        const id = schemas.indexOf(schema) >= 0 ? schemas.indexOf(schema) + 1 : schemas.push(schema);
        return send(200, { id });
      }
      if (req.method === 'GET' && lookup && schemas[Number(lookup[1]) - 1]) return send(200, { schema: schemas[Number(lookup[1]) - 1] });
      send(404, { error_code: 40403, message: 'Schema not found' });
    });
  });
  const { url, close } = await listenLocal(server);
  return { url, schemas, requests, close };
}
