import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { builtIndex } from '../index/index-helpers.js';
import { serveIndex } from './serve-helpers.js';

// The page in a real browser: Debian's Chromium (scripts/test-all.sh installs it), driven by
// playwright-core, which never downloads a browser of its own.
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const cleanup: (() => Promise<unknown>)[] = [];
const served = builtIndex({ teardown: (fn) => void cleanup.push(async () => fn()) }, 6).then(({ index }) => serveIndex(index));
let browser: Browser | undefined;
test.before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
});
test.after.always(async () => {
  await browser?.close();
  await (await served).close();
  await Promise.all(cleanup.map((c) => c()));
});

test('search by words in the page: a grid of hits with thumbnails, labels and scores; click-through to the annotated frame; more like this', async (t) => {
  const { url } = await served;
  const page = await browser!.newPage({ viewport: { width: 1200, height: 800 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.goto(url);
  await page
    .getByTestId('info')
    .filter({ hasText: /objects/ })
    .waitFor();
  t.regex((await page.getByTestId('info').textContent())!, /^\d+ objects · .+@.+ · object-guided$/);

  await page.fill('#text', 'a large purple cross');
  await page.fill('#k', '6');
  await page.click('#go');
  const cards = page.locator('#hits .hit');
  await page
    .locator('#status')
    .filter({ hasText: /of \d+ objects/ })
    .waitFor();
  t.is(await cards.count(), 6);
  t.is(await cards.first().locator('.label').textContent(), 'a large purple cross');
  t.regex((await cards.first().locator('.meta').first().textContent())!, /^#1 · 0\.\d{3} · shapes\//);
  // Every thumbnail arrived and decoded.
  await page.waitForFunction("[...document.querySelectorAll('#hits img')].every((i) => i.complete && i.naturalWidth > 0)");
  t.true(page.url().includes('text=a+large+purple+cross'), 'the address holds the search');

  const firstKey = await cards.first().getAttribute('data-key');
  await cards.first().click();
  await page.waitForFunction("document.querySelector('dialog').open && document.querySelector('#frame').naturalWidth > 0");
  t.true((await page.locator('#facts').textContent())!.startsWith(firstKey!));
  await page.click('#similar');
  await page
    .locator('#status')
    .filter({ hasText: /like this object/ })
    .waitFor();
  t.is(await cards.first().getAttribute('data-key'), firstKey);

  // A link with the search in its address runs it on load.
  await page.goto(`${url}/?text=${encodeURIComponent('a small red circle')}&k=3`);
  await page
    .locator('#status')
    .filter({ hasText: /"a small red circle"/ })
    .waitFor();
  t.is(await cards.count(), 3);
  t.deepEqual(problems, []);
  await page.close();
});

test('an error from the API is shown on the page, and the next search works', async (t) => {
  const { url } = await served;
  const page = await browser!.newPage();
  await page.goto(`${url}/?text=circle&since=2999-01-01T00:00:00Z`);
  await page
    .locator('#status')
    .filter({ hasText: /^0 of 0 objects/ })
    .waitFor();
  t.is(await page.locator('#hits .hit').count(), 0);
  await page.fill('#since', '');
  await page.fill('#k', '500');
  await page.click('#go');
  await page.locator('#status.error').waitFor();
  t.regex((await page.locator('#status').textContent())!, /k must be a whole number from 1 to 200/);
  await page.fill('#k', '2');
  await page.click('#go');
  await page
    .locator('#status')
    .filter({ hasText: /2 of \d+ objects/ })
    .waitFor();
  t.is(await page.locator('#hits .hit').count(), 2);
  await page.close();
});

test('search by example in the page: upload an image, drag a box around an object, the object itself comes first', async (t) => {
  const { url, service } = await served;
  const [top] = await service.index.search(await service.textVector('a large purple cross'), {}, 1);
  if (top?.origin.kind !== 'dataset') throw new Error('the index should hold dataset frames');
  const page = await browser!.newPage({ viewport: { width: 1200, height: 1000 } });
  await page.goto(url);
  await page.setInputFiles('#example', top.origin.path);
  await page.locator('#status').filter({ hasText: 'click the object' }).waitFor();
  const [x0, y0, x1, y1] = top.box;
  const canvas = page.locator('#pick');
  const shown = (await canvas.boundingBox())!;
  const scale = shown.width / Number(await canvas.getAttribute('width'));
  // A drag around the cross (a click on it can select the square it overlaps). The canvas has a
  // 1-pixel border; the page takes it off.
  const at = (x: number, y: number) => [shown.x + 1 + x * scale, shown.y + 1 + y * scale] as const;
  await page.mouse.move(...at(x0 - 1, y0 - 1));
  await page.mouse.down();
  await page.mouse.move(...at(x1 + 1, y1 + 1), { steps: 4 });
  await page.mouse.up();
  await page
    .locator('#status')
    .filter({ hasText: /like the object at box \d+,\d+,\d+,\d+ of / })
    .waitFor();
  t.is(await page.locator('#hits .hit').first().getAttribute('data-key'), top.key);
  await page.close();
});
