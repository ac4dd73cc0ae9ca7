import { expect, test } from "@playwright/test";

import { addChips, openDashboard, signInUser } from "./helpers";

const origin = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

test("users: find a user by handle and preview their list with reasons and features, recording no impression", async ({ page, browser }) => {
  const user = await browser.newPage();
  const handle = await signInUser(user, "preview");
  await addChips(user, "Interests", ["space exploration and astronauts"]);
  await user.getByRole("button", { name: "Save and recommend" }).click();
  await expect(user.locator("#recommendation-list > li.card")).toHaveCount(10);
  await user.close();

  await openDashboard(page);
  const served = async () => {
    await page.goto("/admin");
    return page.locator('[data-stat="impressions"] .stat-value').textContent();
  };
  const before = await served();

  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "Users" }).click();
  await page.getByLabel("Handle (or part of it)").fill(handle.slice(0, -2).toUpperCase());
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page).toHaveURL(/\/admin\/users\?q=/);
  await page.locator(`li[data-user="${handle}"]`).getByRole("link", { name: handle }).click();

  const preview = page.locator("#preview");
  await expect(preview.getByRole("heading", { name: `Preview as ${handle}` })).toBeVisible();
  await expect(preview).toContainText("Interests: space exploration and astronauts");
  const rows = preview.locator("table.preview tbody tr");
  await expect(rows).toHaveCount(10);
  await expect(rows.first().locator(".reason")).toHaveText("interest: space exploration and astronauts");
  const semantic = Number(await rows.first().locator('[data-feature="semantic"]').textContent());
  expect(semantic).toBeGreaterThan(0.2);
  expect(semantic).toBeLessThanOrEqual(1);
  for (const f of ["semantic_mean", "collaborative", "popularity", "lexical"]) {
    await expect(rows.first().locator(`[data-feature="${f}"]`)).toHaveText(/^-?\d\.\d{3}$/);
  }
  // Looking again records nothing either.
  await page.reload();
  await expect(rows).toHaveCount(10);

  expect(await served()).toBe(before);
});

test("users: unknown users and overlong searches say so; admins only", async ({ page, request }) => {
  await page.goto("/admin/users?user=someone");
  await expect(page.getByText("Admin sign-in required")).toBeVisible();
  const anon = await request.post("/api/admin_preview_user", {
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    data: "handle=someone",
  });
  expect(anon.status()).toBe(401);

  await openDashboard(page);
  await page.goto("/admin/users?user=nobody-at-all-here");
  await expect(page.locator("#preview")).toHaveCount(0);
  await expect(page.getByRole("alert")).toContainText("User 'nobody-at-all-here' not found");
  await page.goto(`/admin/users?q=${"a".repeat(41)}`);
  await expect(page.getByRole("alert")).toContainText("at most 40 characters");
  const post = (fn: string, data: string) =>
    page.request.post(`/api/${fn}`, {
      headers: { "content-type": "application/x-www-form-urlencoded", origin, accept: "application/json" },
      data,
    });
  expect((await post("admin_search_users", `q=${"a".repeat(41)}`)).status()).toBe(422);
  expect((await post("admin_preview_user", "handle=no%20such%20handle!")).status()).toBe(422);
  expect((await post("admin_preview_user", "handle=nobody-at-all-here")).status()).toBe(404);
});
