/**
 * A read-only HTTP server for a release repository's static files: what `bulwark release serve`
 * runs, and what the cloud mounts at `/updates/`. Any web server or CDN can do the same job;
 * TUF makes the transport untrusted. GET and HEAD only, `metadata/` and `targets/` only,
 * checked names, regular files only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { repositoryFolders } from './repository.ts';

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;

/**
 * A request handler serving `repoDir` under `prefix` (e.g. '/updates'). Answers false when the
 * path is not under the prefix, so a caller can mount it beside other routes.
 */
export function createRepositoryHandler(
  repoDir: string,
  prefix = '/updates',
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const folders = repositoryFolders(repoDir);
  const base = prefix.replace(/\/+$/, '');
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(base + '/')) return false;
    const send = (status: number, text: string): true => {
      res.writeHead(status, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : text);
      return true;
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let parts: string[];
    try {
      parts = decodeURIComponent(path.slice(base.length + 1)).split('/');
    } catch {
      return send(400, 'bad path\n');
    }
    const [area, ...rest] = parts;
    const root = area === 'metadata' ? folders.metadata : area === 'targets' ? folders.targets : undefined;
    if (!root || rest.length === 0 || rest.length > 4 || !rest.every((s) => SEGMENT.test(s)))
      return send(404, 'not found\n');
    const file = join(root, ...rest);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) return send(404, 'not found\n');
    res.writeHead(200, {
      'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'content-length': info.size,
      // timestamp.json changes in place; everything else is named by version or hash and never changes.
      'cache-control': rest.at(-1) === 'timestamp.json' ? 'no-cache' : 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    return true;
  };
}

/** A running repository server. */
export interface RepositoryServer {
  /** The base URL devices use, e.g. http://127.0.0.1:8080/updates */
  readonly url: string;
  readonly server: Server;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Serves `repoDir` over HTTP on `host:port` (default 127.0.0.1, any free port) under `/updates`.
 * @example const s = await startRepositoryServer({ repoDir: 'releases' }); // s.url
 */
export async function startRepositoryServer(o: {
  repoDir: string;
  host?: string;
  port?: number;
  prefix?: string;
}): Promise<RepositoryServer> {
  const prefix = o.prefix ?? '/updates';
  const handler = createRepositoryHandler(o.repoDir, prefix);
  const server = createServer((req, res) => {
    handler(req, res).then(
      (handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-length': 0 });
          res.end();
        }
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { 'content-length': 0 });
        res.end();
      },
    );
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}${prefix}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
