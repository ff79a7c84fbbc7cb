// The search page: one form, a grid of hits, a dialog with the annotated frame. It only talks to
// the JSON API of `ogclip serve` (see docs/search.md), so anything it shows can be scripted too.
const $ = (id) => document.getElementById(id);
const status = $('status');
let example; // { file, bitmap } while an example image awaits its click

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle('error', isError);
}

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  return body;
}

function filters() {
  const q = new URLSearchParams();
  for (const name of ['stream', 'k']) if ($(name).value) q.set(name, $(name).value);
  // datetime-local is the browser's local time; the API takes ISO 8601 instants.
  for (const name of ['since', 'until']) if ($(name).value) q.set(name, new Date($(name).value).toISOString());
  return q;
}

function card(o, rank) {
  const div = document.createElement('div');
  div.className = 'hit';
  div.dataset.key = o.key;
  const img = document.createElement('img');
  img.src = o.thumbnail;
  img.alt = `object ${o.object_id} of frame ${o.frame_id}`;
  img.loading = 'lazy';
  img.onerror = () => {
    const missing = document.createElement('div');
    missing.className = 'missing';
    missing.textContent = o.origin.kind === 'kafka' ? 'frame came from Kafka: not kept' : 'frame not readable';
    img.replaceWith(missing);
  };
  const label = document.createElement('div');
  label.className = 'label';
  label.textContent = o.labels[0]?.label ?? '(no label)';
  const meta = document.createElement('div');
  meta.className = 'meta';
  const score = o.score === undefined ? '' : `#${rank} · ${o.score.toFixed(3)} · `;
  meta.textContent = `${score}${o.stream_id}/${o.frame_id}`;
  const time = document.createElement('div');
  time.className = 'meta';
  time.textContent = o.time;
  div.append(img, label, meta, time);
  div.onclick = () => open(o);
  return div;
}

function show(list, what) {
  $('hits').replaceChildren(...list.map((o, i) => card(o, i + 1)));
  say(what);
}

function open(o) {
  $('frame').src = o.frame;
  const labels = o.labels.map((l) => `${l.label} ${l.score.toFixed(3)}`).join('\n');
  $('facts').textContent = `${o.key}\nstream ${o.stream_id} · frame ${o.frame_id} · ${o.time}\nbox [${o.box.join(', ')}]\n${labels}`;
  $('similar').onclick = async () => {
    $('detail').close();
    await run(`/api/similar?key=${encodeURIComponent(o.key)}&${filters()}`, 'like this object');
  };
  $('detail').showModal();
}

// Only the latest search may fill the grid: an older one answering late is dropped.
let latest = 0;
async function run(path, what, init) {
  const mine = ++latest;
  say('searching…');
  try {
    const body = await api(path, init);
    if (mine !== latest) return;
    const list = body.hits ?? body.objects;
    show(list, `${list.length} of ${body.candidates} objects · ${what}`);
  } catch (err) {
    if (mine !== latest) return;
    $('hits').replaceChildren();
    say(err.message, true);
  }
}

$('search').onsubmit = async (event) => {
  event.preventDefault();
  const text = $('text').value.trim();
  const q = filters();
  if (text) q.set('text', text);
  // The address holds the search, so a result can be linked to and reloaded.
  history.replaceState(null, '', `?${q}`);
  if (text) {
    await run(`/api/search?${q}`, `"${text}"`);
  } else {
    if (q.has('k')) q.set('limit', q.get('k'));
    q.delete('k');
    await run(`/api/objects?${q}`, 'newest first');
  }
};

$('example').onchange = async () => {
  const file = $('example').files[0];
  if (!file) return;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    say(`${file.name} is not an image this browser can show`, true);
    return;
  }
  example = { file, bitmap };
  const canvas = $('pick');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0);
  $('picker').hidden = false;
  say('click the object in the image, or drag a box around it');
};

// A click on the object is a point prompt; a drag around it a box (the surer prompt when
// objects touch: one click can select the larger object the point also lies in).
let pressed;
const imagePoint = (event) => {
  const canvas = $('pick');
  const rect = canvas.getBoundingClientRect();
  // Image pixels, whatever size the canvas is drawn at.
  return [
    Math.round(((event.clientX - rect.left - canvas.clientLeft) * canvas.width) / canvas.clientWidth),
    Math.round(((event.clientY - rect.top - canvas.clientTop) * canvas.height) / canvas.clientHeight),
  ];
};
$('pick').onpointerdown = (event) => {
  pressed = imagePoint(event);
};
$('pick').onpointerup = async (event) => {
  if (!example || !pressed) return;
  const [x0, y0] = pressed;
  const [x1, y1] = imagePoint(event);
  pressed = undefined;
  const q = filters();
  const dragged = Math.abs(x1 - x0) > 3 && Math.abs(y1 - y0) > 3;
  const prompt = dragged
    ? ['box', [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)].join(',')]
    : ['point', `${x1},${y1}`];
  q.set(...prompt);
  await run(`/api/search/example?${q}`, `like the object at ${prompt[0]} ${prompt[1]} of ${example.file.name}`, {
    method: 'POST',
    headers: { 'content-type': example.file.type || 'image/png' },
    body: example.file,
  });
};

// A search in the address (a link, a reload) is filled in and run.
const given = new URLSearchParams(location.search);
for (const name of ['text', 'stream', 'k']) if (given.get(name)) $(name).value = given.get(name);
for (const name of ['since', 'until']) {
  const t = given.get(name) && new Date(given.get(name));
  if (t && !Number.isNaN(t.getTime())) $(name).value = new Date(t.getTime() - t.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}
if (['text', 'stream', 'since', 'until'].some((name) => given.has(name))) $('search').requestSubmit();

api('/api/info')
  .then((i) => ($('info').textContent = `${i.objects} objects · ${i.model} · ${i.embedder}`))
  .catch((err) => say(err.message, true));
