import { expect, test } from "@playwright/test";

import { openDashboard } from "./helpers";

const origin = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";
const form = { "content-type": "application/x-www-form-urlencoded", origin };

test("API keys: create shows the secret once, the key works, revoke stops it", async ({ page }) => {
  await openDashboard(page);
  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "API keys" }).click();
  await expect(page.getByRole("heading", { name: "API keys", level: 1 })).toBeVisible();

  const name = `e2e-key-${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Scope").selectOption("admin");
  await page.getByRole("button", { name: "Create key" }).click();
  const shown = page.locator("#new-api-key .secret-value");
  await expect(shown).toHaveText(/^semrec_[0-9a-f]{64}$/);
  const secret = (await shown.textContent())!.trim();
  const row = page.locator(`tr[data-key="${name}"]`);
  await expect(row).toContainText("admin");
  await expect(row).toContainText(secret.slice(0, 12));
  // Only the prefix is listed: the whole secret appears nowhere but the notice.
  expect(await page.locator("table.api-keys").textContent()).not.toContain(secret);

  // The key is an admin key of the JSON API.
  const metrics = await page.request.get("/api/v1/metrics", { headers: { authorization: `Bearer ${secret}` } });
  expect(metrics.status()).toBe(200);

  // Shown once: a reload no longer has it.
  await page.reload();
  await expect(page.locator("tr[data-key]").first()).toBeVisible();
  await expect(page.locator("#new-api-key")).toHaveCount(0);
  expect(await page.content()).not.toContain(secret);

  // The CLI's rules: a live name names one key.
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.locator("#api-key-error")).toContainText("exists already");
  await expect(page.locator("#new-api-key")).toHaveCount(0);

  // Revoke: the row says so and the key stops working at once.
  await row.getByRole("button", { name: `Revoke “${name}”` }).click();
  await expect(row.locator(".state-tag")).toContainText("revoked");
  const after = await page.request.get("/api/v1/metrics", { headers: { authorization: `Bearer ${secret}` } });
  expect(after.status()).toBe(401);

  // The name is free again once its key is revoked.
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create key" }).click();
  await expect(page.locator("#new-api-key .secret-value")).toHaveText(/^semrec_/);
  await expect(page.locator(`tr[data-key="${name}"]`)).toHaveCount(2);
});

test("API keys: hostile input gets a 4xx that says what to fix; no session, no keys", async ({ page, request }) => {
  // Without an admin session: the page asks to sign in, the functions answer 401.
  await page.goto("/admin/api-keys");
  await expect(page.getByText("Admin sign-in required")).toBeVisible();
  const anon = await request.post("/api/admin_create_api_key", { headers: form, data: "name=x&scope=write" });
  expect(anon.status()).toBe(401);
  expect((await request.post("/api/admin_api_keys", { headers: form, data: "" })).status()).toBe(401);

  await openDashboard(page);
  const post = (fn: string, data: string) =>
    page.request.post(`/api/${fn}`, { headers: { ...form, accept: "application/json" }, data });
  const long = await post("admin_create_api_key", `name=${"x".repeat(101)}&scope=write`);
  expect(long.status()).toBe(422);
  expect(await long.text()).toContain("1–100 characters");
  const blank = await post("admin_create_api_key", "name=%20%20&scope=write");
  expect(blank.status()).toBe(422);
  const scope = await post("admin_create_api_key", "name=ok&scope=root");
  expect(scope.status()).toBe(422);
  expect(await scope.text()).toContain("use 'write' or 'admin'");
  const notId = await post("admin_revoke_api_key", "id=abc");
  expect(notId.status()).toBe(400);
  const unknown = await post("admin_revoke_api_key", "id=987654321");
  expect(unknown.status()).toBe(404);
  // A cross-site form post is refused before it reaches the function.
  const evil = await page.request.post("/api/admin_create_api_key", {
    headers: { ...form, origin: "http://evil.example" },
    data: "name=evil&scope=admin",
  });
  expect(evil.status()).toBe(403);
});
