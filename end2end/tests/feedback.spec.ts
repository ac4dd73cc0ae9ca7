import { expect, test } from "@playwright/test";

import { addChips, hydrated, importThroughBrowser, signInUser } from "./helpers";

const run = Date.now();

test("“Not interested” on an item pushes its near-duplicate down the list", async ({ page, browser }) => {
  // Two nearly identical items on a topic the demo catalogue barely touches.
  const twin = (id: string, title: string) =>
    JSON.stringify({
      id,
      title,
      description: "A lonely lighthouse keeper on a rocky island logs the storms, the ships and the sea.",
      tags: ["drama"],
    });
  const first = `e2e-lighthouse-a-${run}`;
  const second = `e2e-lighthouse-b-${run}`;
  const firstTitle = `The lighthouse keeper's logbook (${run})`;
  const admin = await browser.newPage();
  const summary = await importThroughBrowser(
    admin,
    "twins.jsonl",
    [twin(first, firstTitle), twin(second, `The lighthouse keeper's logbook, part two (${run})`)].join("\n") + "\n",
  );
  await expect(summary.locator('[data-count="added"]')).toHaveText("2 added");

  await signInUser(page, "twins");
  await addChips(page, "Interests", ["lighthouse keeper on a stormy island"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  const rankOf = async (id: string) => {
    const card = page.locator(`#recommendation-list > li[data-item="${id}"]`);
    return (await card.count()) === 0 ? Infinity : Number(await card.getAttribute("data-rank"));
  };
  const before = await rankOf(second);
  expect(await rankOf(first)).toBeLessThanOrEqual(3);
  expect(before).toBeLessThanOrEqual(3);
  // The "% match" never rises down the list.
  const shown = (await cards.locator(".score").allTextContents()).map((t) => parseInt(t, 10));
  expect(shown).toEqual([...shown].sort((a, b) => b - a));

  await page.getByRole("button", { name: `Not interested in ${firstTitle}` }).click();
  await expect(page.locator(`#recommendation-list > li[data-item="${first}"]`)).toHaveCount(0);
  await page.waitForLoadState("networkidle");
  await page.reload();
  await hydrated(page);
  await expect(cards).toHaveCount(10);
  await expect(page.locator(`#recommendation-list > li[data-item="${first}"]`)).toHaveCount(0);
  // The near-duplicate fell at least 5 places (or out of the first page).
  expect(await rankOf(second)).toBeGreaterThanOrEqual(before + 5);
});

test("the “Not interested in” field is saved with the profile", async ({ page }) => {
  await signInUser(page, "negative");
  await addChips(page, "Interests", ["thriller"]);
  await addChips(page, "Not interested in", ["horror"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved." })).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("list", { name: "Added not interested in" }).locator(".chip")).toHaveText(["horror×"]);
});
