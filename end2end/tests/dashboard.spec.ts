import { readFileSync } from "node:fs";

import { expect, test } from "@playwright/test";

import { openDashboard } from "./helpers";

const day = (back: number) => new Date(Date.now() - back * 86_400_000).toISOString().slice(0, 10);

test("dashboard: the range in the URL drives header, chart and figures; bad values fall back with a note", async ({ page }) => {
  await openDashboard(page);
  // The default: the last 30 days, for the header and the chart alike.
  await expect(page.locator("#range")).toHaveText(`${day(29)} to ${day(0)} (30 days)`);
  const bars = page.locator("section[aria-labelledby=daily-title] .chart .mark");
  await expect(bars).toHaveCount(30);

  // A week, from the range form (a plain GET form: the range is in the URL).
  await page.getByLabel("From").fill(day(6));
  await page.getByRole("button", { name: "Show", exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`from=${day(6)}`));
  await expect(page.locator("#range")).toHaveText(`${day(6)} to ${day(0)} (7 days)`);
  await expect(bars).toHaveCount(7);
  await expect(page.locator("#range-note")).toHaveCount(0);

  // Unusable values: still a 200 page, the default range, and a note saying what was ignored.
  const res = await page.goto(`/admin?from=not-a-day&to=${day(-30)}`);
  expect(res?.status()).toBe(200);
  await expect(page.locator("#range")).toHaveText(`${day(29)} to ${day(0)} (30 days)`);
  await expect(page.locator("#range-note")).toContainText("from=“not-a-day” is not a date");
  await expect(page.locator("#range-note")).toContainText("is in the future");

  // Y-axis labels are distinct (no "0%, 0%, 1%").
  const yLabels = await page
    .locator("section[aria-labelledby=daily-title] .chart text.axis[text-anchor=end]")
    .allTextContents();
  expect(yLabels.length).toBe(5);
  expect(new Set(yLabels).size).toBe(5);
});

test("dashboard: drift says “not enough data yet” on a young database, and the first import is no drift", async ({ page }) => {
  await openDashboard(page);
  const panel = page.locator(".drift-panel");
  await expect(panel).toContainText("Not enough data yet to judge drift");
  await expect(panel).not.toContainText("No drift alert");
  const items = panel.locator("tr", { hasText: "New items vs the existing catalog" });
  await expect(items.locator(".state-tag")).toHaveText("first import");
});

test("dashboard: every table downloads as CSV, for the admin only", async ({ page, request }) => {
  await openDashboard(page);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download “By rank” as CSV" }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^semrec-by_rank-\d{4}-\d{2}-\d{2}-\d{4}-\d{2}-\d{2}\.csv$/);
  const path = await file.path();
  const text = readFileSync(path, "utf8");
  expect(text.split("\r\n")[0]).toBe("rank,shown,clicked,rate");

  const daily = await page.request.get(`/admin/export.csv?table=daily&from=${day(6)}`);
  expect(daily.status()).toBe(200);
  expect(daily.headers()["content-type"]).toBe("text/csv; charset=utf-8");
  const lines = (await daily.text()).trim().split("\r\n");
  expect(lines[0]).toBe("day,shown,clicked,rate");
  expect(lines.slice(1).map((l) => l.split(",")[0])).toEqual([6, 5, 4, 3, 2, 1, 0].map(day));

  expect((await page.request.get("/admin/export.csv?table=nope")).status()).toBe(400);
  // Without the admin session (a fresh request context has no cookies).
  expect((await request.get("/admin/export.csv?table=by_rank")).status()).toBe(401);
});
