/**
 * A model's output rows handed out in order, one per call: a batch stage runs its model once for
 * the frames or objects of all its records, then gives each record its next rows. The count is
 * checked first, so a model that returned the wrong number of rows fails the whole batch (as any
 * thrown error does: 'inference-failed') before any record is changed.
 */
export function rowsInOrder<T>(rows: readonly T[], expected: number, what: string): () => T {
  if (rows.length !== expected) throw new Error(`${what} returned ${rows.length} rows for ${expected} inputs`);
  const it = rows[Symbol.iterator]();
  return () => {
    const next = it.next();
    if (next.done) throw new Error(`${what}: more than its ${expected} rows were taken`);
    return next.value;
  };
}
