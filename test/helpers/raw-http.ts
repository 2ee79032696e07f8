import { connect, type Socket } from 'node:net';

/**
 * HTTP/1.1 by hand, for what fetch cannot do: send a request on a connection that is already
 * busy (pipelining), e.g. to reach a server that has stopped accepting new connections.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function openSocket(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function rawGet(path: string, token?: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: tinkr\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;
}

/** Every response the socket receives until it closes (bodies framed by content-length). */
export function readResponses(socket: Socket): Promise<RawResponse[]> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => {
      let rest = Buffer.concat(chunks);
      const out: RawResponse[] = [];
      while (rest.length > 0) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) break;
        const [statusLine, ...lines] = rest.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        out.push({ status: Number(statusLine!.split(' ')[1]), headers, body: rest.subarray(end + 4, end + 4 + length).toString('utf8') });
        rest = rest.subarray(end + 4 + length);
      }
      resolve(out);
    });
  });
}

/**
 * Sends `head` at once, then `trickled` one byte every `everyMs` (a slow or hostile client), and
 * resolves with everything the server sent once the connection closes. Stops writing as soon as
 * the server closes; if every byte got out, the connection is closed after the answer.
 */
export async function trickle(port: number, head: string, trickled: string, everyMs: number): Promise<{ raw: string; bytesSent: number }> {
  const socket = await openSocket(port);
  let raw = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
  // Writing into a connection the server has just closed may fail; that is the expected end.
  socket.on('error', () => {});
  const done = new Promise<void>((resolve) => socket.once('close', () => ((closed = true), resolve())));
  socket.write(head);
  let bytesSent = 0;
  for (const byte of Buffer.from(trickled, 'utf8')) {
    await new Promise((r) => setTimeout(r, everyMs));
    if (closed || socket.destroyed || !socket.writable) break;
    socket.write(Buffer.from([byte]));
    bytesSent++;
  }
  if (!closed) {
    // All of it arrived: give the server the time to answer, then hang up.
    await new Promise<void>((resolve) => {
      const check = () => (closed || /\r\n\r\n[\s\S]*\}$/.test(raw) ? resolve() : setTimeout(check, 10));
      check();
    });
    socket.end();
  }
  await done;
  return { raw, bytesSent };
}
