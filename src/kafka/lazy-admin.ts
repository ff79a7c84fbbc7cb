import type { Admin } from 'kafkajs';

/**
 * One admin client, connected at its first use and shared after. Once closed it makes no new
 * one: work still running when a source closes (a batch claiming its partition, a lag refresh)
 * would otherwise connect an admin that nobody disconnects, and its socket keeps the process
 * alive after SIGTERM.
 */
export class LazyAdmin {
  readonly #create: () => Admin;
  #admin: Promise<Admin> | undefined;
  #closed = false;

  constructor(create: () => Admin) {
    this.#create = create;
  }

  get(): Promise<Admin> {
    if (this.#closed) return Promise.reject(new Error('kafka: the admin client is closed (the source is shutting down)'));
    return (this.#admin ??= (async () => {
      const a = this.#create();
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      this.#admin = undefined; // a failed connection is tried again by the next use
      throw err;
    }));
  }

  /** Refuses every later get(), and disconnects the admin if one was made (or is being made). */
  async close(): Promise<void> {
    this.#closed = true;
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => {});
  }
}
