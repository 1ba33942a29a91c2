/**
 * The file operations the intake and the stores use, as promises over node:fs's callback API.
 * Not node:fs/promises: loading it (with the streams and readline it brings) costs every
 * deliver a few milliseconds, and deliver runs once per message. The callbacks run in the same
 * libuv thread pool, so nothing here blocks the event loop either. Same names and meanings as
 * node:fs/promises, for the subset sealpost needs.
 */
import * as fs from "node:fs";

type Callback<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(fn: (cb: Callback<T>) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
}

export const stat = (path: string): Promise<fs.Stats> => call((cb) => fs.stat(path, cb));
export const lstat = (path: string): Promise<fs.Stats> => call((cb) => fs.lstat(path, cb));
export const readdir = (path: string): Promise<string[]> => call((cb) => fs.readdir(path, cb));
export const unlink = (path: string): Promise<void> => call<void>((cb) => fs.unlink(path, (e) => cb(e, undefined)));
export const rename = (from: string, to: string): Promise<void> => call<void>((cb) => fs.rename(from, to, (e) => cb(e, undefined)));
export const link = (from: string, to: string): Promise<void> => call<void>((cb) => fs.link(from, to, (e) => cb(e, undefined)));
export const chmod = (path: string, mode: number): Promise<void> => call<void>((cb) => fs.chmod(path, mode, (e) => cb(e, undefined)));
export const chown = (path: string, uid: number, gid: number): Promise<void> =>
  call<void>((cb) => fs.chown(path, uid, gid, (e) => cb(e, undefined)));
export const access = (path: string, mode?: number): Promise<void> => call<void>((cb) => fs.access(path, mode, (e) => cb(e, undefined)));
export const utimes = (path: string, atime: Date, mtime: Date): Promise<void> =>
  call<void>((cb) => fs.utimes(path, atime, mtime, (e) => cb(e, undefined)));
export const mkdir = (path: string, options: fs.MakeDirectoryOptions): Promise<void> =>
  call<void>((cb) => fs.mkdir(path, options, (e) => cb(e, undefined)));

export function readFile(path: string): Promise<Buffer>;
export function readFile(path: string, encoding: BufferEncoding): Promise<string>;
export function readFile(path: string, encoding?: BufferEncoding): Promise<Buffer | string> {
  return call((cb) => (encoding ? fs.readFile(path, encoding, cb) : fs.readFile(path, cb)));
}

export const writeFile = (path: string, data: string | Uint8Array, options: fs.WriteFileOptions = {}): Promise<void> =>
  call<void>((cb) => fs.writeFile(path, data, options, (e) => cb(e, undefined)));

/** An open file, as node:fs/promises' FileHandle for what sealpost does with one. */
export class FileHandle {
  constructor(readonly fd: number) {}

  stat(): Promise<fs.Stats> {
    return call((cb) => fs.fstat(this.fd, cb));
  }

  read(buffer: Buffer, offset: number, length: number, position: number | null): Promise<{ bytesRead: number }> {
    return call((cb) => fs.read(this.fd, buffer, offset, length, position, (e, bytesRead) => cb(e, { bytesRead })));
  }

  /** All of `data`, at the file's current offset (O_APPEND: its end). */
  async writeFile(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    for (let done = 0; done < bytes.length;) {
      done += await call<number>((cb) => fs.write(this.fd, bytes, done, bytes.length - done, null, cb));
    }
  }

  sync(): Promise<void> {
    return call<void>((cb) => fs.fsync(this.fd, (e) => cb(e, undefined)));
  }

  utimes(atime: Date, mtime: Date): Promise<void> {
    return call<void>((cb) => fs.futimes(this.fd, atime, mtime, (e) => cb(e, undefined)));
  }

  truncate(length: number): Promise<void> {
    return call<void>((cb) => fs.ftruncate(this.fd, length, (e) => cb(e, undefined)));
  }

  close(): Promise<void> {
    return call<void>((cb) => fs.close(this.fd, (e) => cb(e, undefined)));
  }
}

export async function open(path: string, flags: string | number, mode?: number): Promise<FileHandle> {
  return new FileHandle(await call<number>((cb) => fs.open(path, flags, mode, cb)));
}
