import { readFileSync } from "node:fs";

import { expect, test } from "@playwright/test";

import { openDashboard } from "./helpers";

test("dashboard: the most “Not interested” items, counted per item, with a CSV; surface and ranker tables are there", async ({ page }) => {
  const run = Date.now();
  await openDashboard(page);
  await page.goto("/admin/api-keys");
  await page.getByLabel("Name").fill(`e2e-dismiss-${run}`);
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.locator("#new-api-key .secret-value").textContent())!.trim();
  const auth = { authorization: `Bearer ${secret}` };

  const a = `e2e-dismiss-a-${run}`;
  const b = `e2e-dismiss-b-${run}`;
  const items = await page.request.post("/api/v1/items", {
    headers: { ...auth, "content-type": "application/x-ndjson" },
    data: `{"id":"${a}","title":"Dismissed often ${run}"}\n{"id":"${b}","title":"Dismissed once ${run}"}\n`,
  });
  expect(items.status()).toBe(200);
  const dismiss = (user: string, item: string) => page.request.put(`/api/v1/users/${user}/dismissals/${item}`, { headers: auth });
  for (const u of ["u1", "u2", "u3", "u4"]) expect((await dismiss(`${u}-${run}`, a)).status()).toBe(204);
  expect((await dismiss(`u1-${run}`, b)).status()).toBe(204);
  // An undone dismissal no longer counts.
  const undo = await page.request.delete(`/api/v1/users/u4-${run}/dismissals/${a}`, { headers: auth });
  expect(undo.status()).toBe(200);

  await page.goto("/admin");
  const panel = page.locator("section[aria-labelledby=dismissed-title]");
  await expect(panel.getByRole("heading", { name: "Most “Not interested”" })).toBeVisible();
  const rowA = panel.locator(`tr[data-item="${a}"]`);
  const rowB = panel.locator(`tr[data-item="${b}"]`);
  await expect(rowA.locator('[data-count="dismissed"]')).toHaveText("3");
  await expect(rowB.locator('[data-count="dismissed"]')).toHaveText("1");
  await expect(rowA).toContainText(`Dismissed often ${run}`);
  // Most dismissed first.
  const order = await panel.locator("tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-item")));
  expect(order.indexOf(a)).toBeLessThan(order.indexOf(b));

  const download = page.waitForEvent("download");
  await panel.getByRole("link", { name: /Download .* as CSV/ }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^semrec-not_interested-/);
  const text = readFileSync(await file.path(), "utf8");
  const lines = text.split("\r\n");
  expect(lines[0]).toBe("item,id,not_interested,shown");
  expect(lines).toContain(`Dismissed often ${run},${a},3,0`);

  // The breakdowns by surface and by ranker model, each with its CSV.
  for (const title of ["By surface", "By ranker model"]) {
    await expect(page.getByRole("heading", { name: title, exact: true })).toBeVisible();
    await expect(page.getByRole("link", { name: `Download “${title}” as CSV` })).toBeVisible();
  }
  const surface = await page.request.get("/admin/export.csv?table=by_surface");
  expect(surface.status()).toBe(200);
  expect((await surface.text()).split("\r\n")[0]).toBe("surface,shown,clicked,rate");
});
