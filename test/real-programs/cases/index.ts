import type { RealCase } from '../real-case.js';
import { expressShop } from './express-shop.js';
import { fastifyCatalog } from './fastify-catalog.js';
import { httpServer } from './http-server.js';
import { jsonServer } from './json-server.js';

/** Every case, in the order reports list them. */
export const realCases: RealCase[] = [jsonServer, expressShop, fastifyCatalog, httpServer];
