import { expect, test, type Page } from "@playwright/test";

import { importThroughBrowser, openDashboard } from "./helpers";

/** Creates an admin-scope API key through the admin page; returns [name, secret]. */
async function createKey(page: Page): Promise<[string, string]> {
  await page.goto("/admin/api-keys");
  const name = `e2e-imports-${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.locator("#new-api-key .secret-value").textContent())!.trim();
  return [name, secret];
}

test("import history: browser, API catalogue and interactions imports are listed newest first, by whom, with counts", async ({ page }) => {
  const tag = `imp${Date.now()}`;
  // 120 lines: the browser sends two parts, which stay one import in the history.
  const lines = Array.from({ length: 119 }, (_, i) =>
    JSON.stringify({ id: `${tag}-${i}`, title: `History test item ${i}`, description: "a small test item about sailing boats" }),
  );
  lines.splice(5, 0, '{"id": "broken"');
  const summary = await importThroughBrowser(page, "history.jsonl", lines.join("\n") + "\n");
  await expect(summary.locator('[data-count="added"]')).toHaveText("119 added");

  const [keyName, secret] = await createKey(page);
  const auth = { authorization: `Bearer ${secret}`, "content-type": "application/x-ndjson" };
  const items = await page.request.post("/api/v1/items", {
    headers: auth,
    data: `{"id":"${tag}-0","title":"History test item 0","description":"a small test item about sailing boats"}\n{"id":"${tag}-api","title":"From the API"}\nnot json\n`,
  });
  expect(items.status()).toBe(200);
  const interactions = await page.request.post("/api/v1/interactions", {
    headers: auth,
    data: `{"user":"${tag}-u","item":"${tag}-1","ts":"2026-12-01T10:00:00Z"}\n{"user":"${tag}-u","item":"no-such-item","ts":"2026-12-01T10:00:00Z"}\n`,
  });
  expect(interactions.status()).toBe(200);

  await page.goto("/admin");
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "Import history" }).click();
  await expect(page).toHaveURL(/\/admin\/imports$/);
  const rows = page.locator("table.imports tbody tr");
  const row = (i: number) => rows.nth(i);
  const count = (i: number, what: string) => row(i).locator(`[data-count="${what}"]`);

  await expect(row(0)).toContainText(`API key ${keyName}`);
  await expect(row(0)).toContainText("interactions");
  await expect(count(0, "added")).toHaveText("1");
  await expect(count(0, "rejected")).toHaveText("1");

  await expect(row(1)).toContainText(`API key ${keyName}`);
  await expect(row(1)).toContainText("catalogue");
  await expect(count(1, "added")).toHaveText("1");
  await expect(count(1, "unchanged")).toHaveText("1");
  await expect(count(1, "rejected")).toHaveText("1");

  // The browser import: one row for both parts, by the admin.
  await expect(row(2).locator(".actor")).toHaveText("admin");
  await expect(row(2)).toContainText("web");
  await expect(count(2, "added")).toHaveText("119");
  await expect(count(2, "rejected")).toHaveText("1");

  // The first start's demo catalogue is there too.
  await expect(page.locator("table.imports")).toContainText("first start (demo catalogue)");
});

test("import history: pages of 25, newest first; a bad page number shows the first page; admins only", async ({ page, request }) => {
  await page.goto("/admin/imports");
  await expect(page.getByText("Admin sign-in required")).toBeVisible();
  expect((await request.post("/api/admin_import_history", { headers: { "content-type": "application/x-www-form-urlencoded" }, data: "page=1" })).status()).toBe(401);

  await openDashboard(page);
  const [keyName, secret] = await createKey(page);
  // 26 small API imports: more than a page.
  for (let i = 0; i < 26; i++) {
    const res = await page.request.post("/api/v1/interactions", {
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/x-ndjson" },
      data: `{"user":"pager-${i}","item":"no-such-item","ts":"2026-12-01T10:00:00Z"}\n`,
    });
    expect(res.status()).toBe(200);
  }
  await page.goto("/admin/imports");
  const rows = page.locator("table.imports tbody tr");
  await expect(rows).toHaveCount(25);
  await expect(page.locator("#import-count")).toContainText("page 1 of");
  await expect(rows.first()).toContainText(`API key ${keyName}`);
  await expect(page.getByRole("link", { name: "Newer" })).toHaveCount(0);
  const firstIds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-import")));
  await page.getByRole("link", { name: "Older" }).click();
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator("#import-count")).toContainText("page 2 of");
  const secondIds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-import")));
  expect(secondIds.length).toBeGreaterThan(0);
  // Newest first across pages: every id on page 2 is older (smaller) than page 1's.
  expect(Math.max(...secondIds.map(Number))).toBeLessThan(Math.min(...firstIds.map(Number)));
  await expect(page.getByRole("link", { name: "Newer" })).toBeVisible();

  const bad = await page.goto("/admin/imports?page=-3");
  expect(bad?.status()).toBe(200);
  await expect(page.locator("#import-count")).toContainText("page 1 of");
});
