import { expect, test, type Page } from "@playwright/test";

import { addChips, hydrated, openDashboard, signInUser } from "./helpers";

/** The dashboard's "Lists served". */
async function listsServed(admin: Page): Promise<number> {
  await openDashboard(admin);
  return Number(await admin.locator('[data-stat="impressions"] .stat-value').textContent());
}

test("Back to the list keeps it: the same cards in the same order, the opened one included, counted once", async ({
  page,
  browser,
}) => {
  const admin = await browser.newPage();
  await signInUser(page, "back");
  await addChips(page, "Interests", ["space exploration"]);
  const before = await listsServed(admin);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  const shown = () => cards.evaluateAll((els) => els.map((e) => e.getAttribute("data-item")));
  // Every card links with the list's impression id.
  const impression = async () =>
    new URL((await cards.first().locator(".card-title").getAttribute("href"))!, page.url()).searchParams.get("imp");
  const ids = await shown();
  const imp = await impression();
  expect(imp).toMatch(/^[0-9a-f-]{36}$/);
  expect(await listsServed(admin)).toBe(before + 1);

  // Open the second card: its click would leave it out of a new list.
  const opened = ids[1]!;
  await cards.nth(1).locator(".card-title").click();
  await expect(page).toHaveURL(/\/item\/.+\?imp=/);
  await expect(page.locator("#similar li.card").first()).toBeVisible();
  // The item page's "More like this" is a list of its own.
  const withItemPage = await listsServed(admin);
  expect(withItemPage).toBe(before + 2);

  await page.goBack();
  await hydrated(page);
  await expect(cards).toHaveCount(10);
  expect(await shown()).toEqual(ids);
  expect(await impression()).toBe(imp);
  await expect(page.locator(`#recommendation-list > li[data-item="${opened}"]`)).toHaveCount(1);
  // A reload too.
  await page.reload();
  await hydrated(page);
  expect(await shown()).toEqual(ids);
  expect(await impression()).toBe(imp);
  expect(await listsServed(admin)).toBe(withItemPage);
});
