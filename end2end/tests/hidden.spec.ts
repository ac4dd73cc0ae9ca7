import { expect, test } from "@playwright/test";

import { addChips, hydrated, signInUser } from "./helpers";

test("“Not interested”: focus moves on, Undo puts the card back, and the Hidden page restores it", async ({ page }) => {
  await signInUser(page, "hidden");
  await addChips(page, "Interests", ["jazz musicians"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  // After saving, keyboard focus is on the list's heading, not the page body.
  await expect(page.getByRole("heading", { name: "Recommended for you" })).toBeFocused();
  const shown = () => cards.evaluateAll((els) => els.map((e) => e.getAttribute("data-item")));
  const ids = await shown();
  const card = (id: string) => page.locator(`#recommendation-list > li[data-item="${id}"]`);
  const title = (await card(ids[0]!).locator(".card-title").textContent())!.trim();
  const dismiss = page.getByRole("button", { name: `Not interested in ${title}` });

  await dismiss.click();
  await expect(card(ids[0]!)).toHaveCount(0);
  // Focus goes to the card that took its place.
  await expect(card(ids[1]!).locator(".card-title")).toBeFocused();
  const toast = page.locator(".toast");
  await expect(toast).toContainText(`Hidden “${title}”`);
  await toast.getByRole("button", { name: "Undo" }).click();
  await expect(toast).toHaveCount(0);
  await expect(cards).toHaveCount(10);
  expect(await shown()).toEqual(ids);
  await expect(card(ids[0]!).locator(".card-title")).toBeFocused();
  // The undo reached the server: a reload still shows it.
  await page.reload();
  await hydrated(page);
  expect(await shown()).toEqual(ids);

  // Hide it again, then restore it from the Hidden page (plain forms).
  await dismiss.click();
  await expect(toast).toContainText(`Hidden “${title}”`);
  await toast.getByRole("link", { name: "All hidden items" }).click();
  await expect(page).toHaveURL(/\/hidden$/);
  await expect(page.getByRole("heading", { level: 1, name: "Hidden" })).toBeVisible();
  const row = page.locator(`.hidden-item[data-item="${ids[0]}"]`);
  await expect(row).toContainText(title);
  await row.getByRole("button", { name: `Restore ${title}` }).click();
  await expect(page.getByText("Nothing hidden.")).toBeVisible();
  await page.getByRole("link", { name: "Back to your recommendations" }).click();
  await hydrated(page);
  await expect(card(ids[0]!)).toHaveCount(1);
});
