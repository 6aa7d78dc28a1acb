// `pgcdc demo --webhook`: a tiny receiver on 127.0.0.1 (random port) for a demo webhook target. It
// checks what a real receiver should: the Standard Webhooks signature, and that the changes of
// each user arrive in commit order (a retry may repeat one, never go back).
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook } from '../../../consumers/webhook/verify.ts';
import { parseLsn } from '../../../schemas/lsn.ts';
import { WebhookTargetSchema, type WebhookTargetConfig } from '../../../pipeline/config/schema.ts';

export interface DemoReceiver {
  target: WebhookTargetConfig;
  stats(): { requests: number; events: number; users: number; badSignatures: number; outOfOrder: number };
  close(): Promise<void>;
}

export async function startDemoReceiver(name = 'hook'): Promise<DemoReceiver> {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const last = new Map<string, bigint>();
  const ids = new Set<string>();
  const s = { requests: 0, badSignatures: 0, outOfOrder: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      s.requests++;
      const body = Buffer.concat(chunks);
      const check = verifyWebhook({ secret, headers: req.headers, body });
      if (!check.ok) {
        s.badSignatures++;
        res.writeHead(401).end(check.reason);
        return;
      }
      const p = JSON.parse(body.toString('utf8')) as {
        id: string;
        key: { id: string };
        source: { commit_lsn: string; seq: string };
      };
      // position of the change in the source's history: commit LSN, then order inside the commit
      const pos = (parseLsn(p.source.commit_lsn) << 32n) + BigInt(p.source.seq);
      const prev = last.get(p.key.id);
      if (prev !== undefined && pos < prev) s.outOfOrder++;
      else last.set(p.key.id, pos);
      ids.add(p.id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const target = WebhookTargetSchema.parse({
    name,
    type: 'webhook',
    url: `http://127.0.0.1:${port}/events`,
    secret,
    concurrency: 8,
  });
  return {
    target,
    stats: () => ({ ...s, events: ids.size, users: last.size }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
