import type { ExecutionContext } from 'ava';

/**
 * |actual - expected| <= tol, for a number or element-wise for arrays of the same length. For
 * computed floats whose last bits depend on the order of a sum: an exact comparison (or one after
 * toFixed, which flips at a rounding boundary) would test the summation order, not the result.
 * One assertion per call; the message names the label and every index that is off.
 */
export function assertClose(
  t: ExecutionContext,
  actual: number | ArrayLike<number>,
  expected: number | ArrayLike<number>,
  tol: number,
  label = 'value',
): void {
  const problems: string[] = [];
  const off = (a: number, e: number, name: string) => {
    // Written so that NaN fails.
    if (!(Math.abs(a - e) <= tol)) problems.push(`${name}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > tol ${tol})`);
  };
  if (typeof actual === 'number' || typeof expected === 'number') {
    if (typeof actual !== 'number' || typeof expected !== 'number') problems.push(`${label}: a number compared with an array`);
    else off(actual, expected, label);
  } else if (actual.length !== expected.length) {
    problems.push(`${label}: length ${actual.length}, expected ${expected.length}`);
  } else {
    for (let i = 0; i < expected.length; i++) off(actual[i]!, expected[i]!, `${label}[${i}]`);
  }
  if (problems.length === 0) t.pass();
  else t.fail(problems.join('\n'));
}
