import { describe, expect, it } from 'vitest';
import { liveServer } from '../../clients/server.js';

describe('live stream', () => {
  it('sends new power points to a viewer, and ends open streams when the server shuts down', async () => {
    const server = await liveServer('live');
    const res = await fetch(`${server.url}/api/live/stream`);
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const now = Date.now();
    await server.store.write([{ measurement: 'power', tags: { host: 'sse-host', source: 'nvml/0', domain: 'gpu', method: 'counter', in_total: 'true' }, fields: { energy_j: 42, power_w: 42, interval_s: 1 }, timeMs: now }]);
    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes('event: power') && Date.now() < deadline) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    const data = JSON.parse(/event: power\ndata: (.*)\n/.exec(text)?.[1] ?? '[]') as Array<{ host: string; power_w: number; t: number }>;
    expect(data).toContainEqual(expect.objectContaining({ host: 'sse-host', power_w: 42, t: now }));
    const closed = server.close();
    await expect(Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('hung'), 5000))])).resolves.toBe('closed');
    expect((await reader.read()).done).toBe(true);
  });
});
