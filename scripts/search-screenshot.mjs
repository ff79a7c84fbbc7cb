// The search page's picture in docs/search-page.png: `ogclip serve` on an index (default
// out/index, which `ogclip run topologies/index-archive.yaml` writes), a text search in Debian's
// headless Chromium, the grid and then the annotated frame of the first hit.
//   node scripts/search-screenshot.mjs [index] [query]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chromium } from 'playwright-core';

const [index = 'out/index', query = 'a large purple cross'] = process.argv.slice(2);
const serve = spawn(process.execPath, ['bin/ogclip.js', 'serve', '--index', index, '--port', '0'], { stdio: ['ignore', 'inherit', 'pipe'] });
let url;
let said = '';
serve.stderr.setEncoding('utf8');
for await (const chunk of serve.stderr) {
  process.stderr.write(chunk);
  said += chunk;
  url = /serving .* on (http:\S+)/.exec(said)?.[1];
  if (url) break;
}
if (!url) throw new Error('ogclip serve ended before it listened');
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } });
  await page.goto(`${url}/?text=${encodeURIComponent(query)}&k=12`);
  await page.locator('#status').filter({ hasText: /of \d+ objects/ }).waitFor();
  await page.waitForFunction("[...document.querySelectorAll('#hits img')].every((i) => i.complete && i.naturalWidth > 0)");
  await page.screenshot({ path: 'docs/search-page.png' });
  await page.locator('#hits .hit').first().click();
  await page.waitForFunction("document.querySelector('#frame').naturalWidth > 0");
  await page.screenshot({ path: 'docs/search-frame.png' });
  console.log('docs/search-page.png, docs/search-frame.png');
} finally {
  await browser.close();
  serve.kill('SIGTERM');
  await once(serve, 'exit');
}
