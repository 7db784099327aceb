// The desk UI end to end in Debian's Chromium (driven by tests/desk_ui.rs, which starts the
// broker and the dispatcher and passes their coordinates in XL_* variables).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import assert from "node:assert/strict";

const E = process.env;
const CAM_A = "44030400001320000001"; // 福田派出所 · 园区步道东口
const shots = (name) => join(E.XL_ARTIFACTS, name);
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--disable-sync",
];

async function desk(user) {
  // A fresh profile per user: separate cookies, nothing left from earlier runs.
  const ctx = await chromium.launchPersistentContext(join(E.XL_PROFILE, user), {
    executablePath: E.XL_CHROMIUM,
    args: ARGS,
    viewport: { width: 1920, height: 1080 },
    locale: "zh-CN",
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on("pageerror", (e) => {
    console.error(`[${user}] page error:`, e);
    process.exitCode = 1;
  });
  page.on("console", (m) => {
    if (m.type() === "error") console.error(`[${user}] console:`, m.text());
  });
  await page.goto(E.XL_URL);
  await page.waitForSelector("#username");
  return { ctx, page };
}

async function login(page, user) {
  await page.fill("#username", user);
  await page.fill("#password", E.XL_PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector("#banner #duty-banner");
  await page.waitForSelector("#live.on", { timeout: 5000 });
}

function sendAlert(camera, event, summary) {
  const out = execFileSync(E.XL_BIN, [
    "send-alert",
    "--config",
    E.XL_CONFIG,
    "--camera",
    camera,
    "--event",
    event,
    "--severity",
    "major",
    "--summary",
    summary,
    "--snapshot",
    E.XL_SNAPSHOT,
  ]);
  return JSON.parse(out.toString().trim().split("\n").pop()).alert_id;
}

// ---- station A: the live queue and the whole lifecycle -------------------------------------
const a = await desk("li");
await a.page.screenshot({ path: shots("01-login.png") });
await a.page.fill("#username", "li");
await a.page.fill("#password", "wrong password");
await a.page.click("#login-submit");
await a.page.waitForFunction(() => document.querySelector("#login-error").textContent.length > 0);
assert.match(await a.page.textContent("#login-error"), /用户名或密码错误/);
await login(a.page, "li");
assert.match(await a.page.textContent("#duty-banner"), /平时/);
assert.match(await a.page.textContent("#desk-name"), /福田派出所/);
assert.equal(await a.page.locator("[data-testid=incident-row]").count(), 0);

sendAlert(CAM_A, "crowd_gathering", "园区步道东口 12 人聚集");
const published = Date.now();
const row = a.page.locator("[data-testid=incident-row]").first();
await row.waitFor({ timeout: 2000 });
const waited = Date.now() - published;
console.log(`incident appeared in station A's queue ${waited} ms after the alert was in Kafka`);
assert.ok(waited < 2000);
const incidentId = await row.getAttribute("data-id");
assert.match(await row.textContent(), /人员聚集/);
assert.match(await row.textContent(), /园区步道东口/);
await a.page.screenshot({ path: shots("02-station-a-queue.png") });

await row.click();
await a.page.waitForSelector("#detail-state[data-state=new]");
await a.page.waitForFunction(() => {
  const i = document.querySelector("#snapshots img");
  return i && i.complete && i.naturalWidth > 0;
});
assert.equal(
  await a.page.locator("#map circle.cam.here").count(),
  1,
  "the camera is marked on the map",
);
assert.ok(
  (await a.page.locator("#map path.area.mine").count()) >= 1,
  "the station's area is drawn",
);
await a.page.screenshot({ path: shots("03-incident-new.png") });

await a.page.fill("#action-note", "值班民警已查看");
await a.page.click("#btn-ack");
await a.page.waitForSelector("#detail-state[data-state=acknowledged]");
await a.page.click("#btn-dispatch"); // no unit: refused in the UI
assert.match(await a.page.textContent("#action-error"), /出警单位/);
await a.page.fill("#dispatch-unit", "巡逻一组");
await a.page.click("#btn-dispatch");
await a.page.waitForSelector("#detail-state[data-state=dispatched]");
await a.page.selectOption("#close-disposition", "true_alarm");
await a.page.fill("#action-note", "人群已劝离");
await a.page.click("#btn-close");
await a.page.waitForSelector("#detail-state[data-state=closed]");
const actions = await a.page.$$eval("#history li", (li) => li.map((x) => x.dataset.action));
assert.deepEqual(actions, ["opened", "acknowledged", "dispatched", "closed"]);
const hist = await a.page.textContent("#history");
assert.match(hist, /li/);
assert.match(hist, /巡逻一组/);
assert.match(hist, /@127\.0\.0\.1/);
await a.page.screenshot({ path: shots("04-incident-closed.png") });

await a.page.click("#lang");
assert.match(await a.page.textContent("#duty-banner"), /Duty level/);
await a.page.screenshot({ path: shots("05-english.png") });
await a.page.click("#lang");
await a.ctx.close();

// ---- station B: neither sees nor can open A's incident, in the UI and through the API ------
const b = await desk("wang");
await login(b.page, "wang");
await b.page.selectOption("#filter-state", "");
await b.page.waitForTimeout(300);
assert.equal(
  await b.page.locator(`[data-id="${incidentId}"]`).count(),
  0,
  "B's queue must not show A's incident",
);
const direct = await b.page.evaluate(async (id) => {
  const get = await fetch(`/api/v1/incidents/${id}`);
  const ack = await fetch(`/api/v1/incidents/${id}/close`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-CSRF-Token": sessionStorage.getItem("xl.csrf"),
    },
    body: JSON.stringify({ disposition: "false_alarm" }),
  });
  const list = await (await fetch("/api/v1/incidents?limit=1000")).json();
  return { get: get.status, ack: ack.status, listed: list.some((i) => i.id === id) };
}, incidentId);
assert.deepEqual(direct, { get: 404, ack: 404, listed: false });
await b.page.screenshot({ path: shots("06-station-b.png") });
await b.ctx.close();

// ---- the centre: sees it, per-station counts, camera health, sets the duty level ----------
const c = await desk("zhao");
await login(c.page, "zhao");
await c.page.waitForSelector("#desk-stats tr[data-desk=futian-ps]");
assert.ok((await c.page.locator("#camera-health tbody tr").count()) >= 6);
// Live camera status from the status topic: the reported camera's edge and state, and a
// camera no edge ever reported (the overview re-reads every 5 s).
await c.page.waitForFunction(
  (id) => {
    const row = document.querySelector(`#camera-health tr[data-camera="${id}"]`);
    return row && row.querySelector("td.node").textContent === "futian-edge-1";
  },
  E.XL_STATUS_CAMERA,
  { timeout: 12000 },
);
const cells = async (id) =>
  c.page.evaluate((id) => {
    const row = document.querySelector(`#camera-health tr[data-camera="${id}"]`);
    return [...row.querySelectorAll("td")].map((td) => td.textContent);
  }, id);
const reported = await cells(E.XL_STATUS_CAMERA);
assert.equal(reported[2], "在线", reported.join(" | "));
assert.equal(reported[4], "1", reported.join(" | "));
const silent = await cells(E.XL_UNREPORTED_CAMERA);
assert.equal(silent[2], "未上报", silent.join(" | "));
await c.page.screenshot({ path: shots("07-centre-overview.png") });
// On a phone the centre's panels stack and the camera table scrolls inside its own box.
await c.page.setViewportSize({ width: 390, height: 844 });
await c.page.screenshot({ path: shots("07b-centre-overview-phone.png"), fullPage: true });
const overflow = await c.page.evaluate(() => ({
  page: document.scrollingElement.scrollWidth,
  table: document.querySelector("#camera-health").getBoundingClientRect().right,
}));
assert.ok(overflow.page <= 390, `the page is wider than the phone: ${JSON.stringify(overflow)}`);
await c.page.setViewportSize({ width: 1920, height: 1080 });
await c.page.click("#duty-special");
await c.page.waitForFunction(() => /特殊/.test(document.querySelector("#duty-banner").textContent));
await c.page.click("#tab-queue");
await c.page.selectOption("#filter-state", "");
await c.page.locator(`[data-id="${incidentId}"]`).waitFor({ timeout: 3000 });
await c.page.locator(`[data-id="${incidentId}"]`).click();
await c.page.waitForSelector("#detail-state[data-state=closed]");
await c.page.screenshot({ path: shots("08-centre-incident.png") });
await c.ctx.close();
console.log("desk UI end-to-end: ok");
