import { expect, test } from "@playwright/test";

import { importThroughBrowser, openDashboard } from "./helpers";

const origin = process.env.E2E_BASE_URL ?? "http://127.0.0.1:3000";

test("catalogue: search, edit (re-embedded only when the text changes), delete", async ({ page }) => {
  const run = Date.now();
  const id = `e2e-cat-${run}`;
  const title = `Catalogue browser lighthouse ${run}`;
  const summary = await importThroughBrowser(
    page,
    "one.jsonl",
    JSON.stringify({ id, title, description: "A keeper tends a lighthouse.", tags: ["sea"], language: "en", source: "e2e", metadata: { genres: ["Drama"] } }) + "\n",
  );
  await expect(summary.locator('[data-count="added"]')).toHaveText("1 added");

  await page.getByRole("navigation", { name: "Admin pages" }).getByRole("link", { name: "Catalogue" }).click();
  await page.getByLabel("Title or id").fill(`browser lighthouse ${run}`.toUpperCase());
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator(`table.catalogue tr[data-item="${id}"]`);
  await expect(page.locator("#catalogue-count")).toContainText("1 items match");
  await expect(row.locator(".state-tag")).toHaveClass(/embed-current/);
  await expect(row.locator(".state-tag")).toContainText("embedded");
  await row.getByRole("link", { name: title }).click();

  const editor = page.locator("#item-editor");
  await expect(editor.getByLabel("Title")).toHaveValue(title);
  await expect(editor.getByLabel("Tags (comma-separated)")).toHaveValue("sea");
  const embeddedBefore = await page.locator("#embed-state").textContent();

  // Saving the same text changes nothing: no new vector.
  await page.waitForTimeout(1100);
  await editor.getByRole("button", { name: "Save and re-embed" }).click();
  await expect(page.locator("#embed-state")).toHaveText(embeddedBefore!);

  // A new text is embedded again (a new time, to the second).
  await editor.getByLabel("Title").fill(`${title} on the volcano`);
  await editor.getByLabel("Description").fill("Lava flows past an old lighthouse on a volcanic island.");
  await editor.getByLabel("Tags (comma-separated)").fill("geology, volcano,  ");
  await editor.getByRole("button", { name: "Save and re-embed" }).click();
  await expect(page.locator("#embed-state")).not.toHaveText(embeddedBefore!);
  await expect(page.locator("#embed-state")).toHaveClass(/embed-current/);
  await expect(editor.getByLabel("Title")).toHaveValue(`${title} on the volcano`);
  await expect(editor.getByLabel("Tags (comma-separated)")).toHaveValue("geology, volcano");
  await expect(row).toContainText("geology, volcano");
  // Everything else is kept: the item page still shows its genre.
  const itemPage = await page.request.get(`/item/${id}`);
  expect(await itemPage.text()).toContain("Drama");

  // Delete: the box must be ticked; then the item is gone.
  await editor.getByLabel("Yes, delete this item").check();
  await editor.getByRole("button", { name: "Delete item" }).click();
  await expect(page.locator("#item-missing")).toContainText(`item '${id}' not found`);
  await expect(page.locator(`table.catalogue tr[data-item="${id}"]`)).toHaveCount(0);
  expect((await page.request.get(`/item/${id}`)).status()).toBe(404);
});

test("catalogue: bad edits get a 4xx that says what to fix; admins only", async ({ page, request }) => {
  await page.goto("/admin/catalogue");
  await expect(page.getByText("Admin sign-in required")).toBeVisible();
  const anon = await request.post("/api/admin_delete_item", {
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    data: "id=x&confirm=yes",
  });
  expect(anon.status()).toBe(401);

  const run = Date.now();
  const id = `e2e-cat-bad-${run}`;
  await importThroughBrowser(page, "bad.jsonl", JSON.stringify({ id, title: `Bad edits ${run}` }) + "\n");
  const post = (fn: string, data: Record<string, string>) =>
    page.request.post(`/api/${fn}`, {
      headers: { "content-type": "application/x-www-form-urlencoded", origin, accept: "application/json" },
      data: new URLSearchParams(data).toString(),
    });
  const blank = await post("admin_edit_item", { id, title: "   ", description: "", tags: "" });
  expect(blank.status()).toBe(422);
  expect(await blank.text()).toContain("title");
  const long = await post("admin_edit_item", { id, title: "x".repeat(501), description: "", tags: "" });
  expect(long.status()).toBe(422);
  const tags = await post("admin_edit_item", { id, title: "ok", description: "", tags: Array.from({ length: 101 }, (_, i) => `t${i}`).join(",") });
  expect(tags.status()).toBe(422);
  expect(await tags.text()).toContain("at most 100");
  const huge = await post("admin_edit_item", { id, title: "ok", description: "", tags: "x".repeat(30_000) });
  expect(huge.status()).toBe(422);
  const unknown = await post("admin_edit_item", { id: "no-such-item-here", title: "ok", description: "", tags: "" });
  expect(unknown.status()).toBe(404);
  const unconfirmed = await post("admin_delete_item", { id });
  expect(unconfirmed.status()).toBe(422);
  // Nothing above changed the item.
  await page.goto(`/admin/catalogue?item=${id}`);
  await expect(page.locator("#item-editor").getByLabel("Title")).toHaveValue(`Bad edits ${run}`);
  await page.goto(`/admin/catalogue?q=${"q".repeat(201)}`);
  await expect(page.getByRole("alert")).toContainText("at most 200 characters");
});
