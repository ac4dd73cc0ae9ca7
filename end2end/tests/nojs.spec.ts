import { expect, test } from "@playwright/test";

import { addChips, hydrated, signInUser } from "./helpers";

test("without JavaScript: save, “Show more” and “Not interested” are forms that work", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByLabel("Your handle").fill(`nojs-${Date.now()}`);
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  // The chip box's text is saved as typed; a quoted comma stays in its entry.
  await page.getByLabel("Interests", { exact: true }).fill('jazz, "Paris, Texas"');
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  await expect(page.getByRole("list", { name: "Added interests" }).locator(".chip span")).toHaveText([
    "jazz",
    "Paris, Texas",
  ]);

  // "Show more": a GET form; the next page joins the first, scrolled to its first card.
  await page.getByRole("button", { name: "Show more" }).click();
  await expect(page).toHaveURL(/[?&]pages=2(&|#|$)/);
  await expect(page).toHaveURL(/#rank-11$/);
  await expect(cards).toHaveCount(20);
  const ids = await cards.evaluateAll((els) => els.map((e) => e.getAttribute("data-item")));
  expect(new Set(ids).size).toBe(20);
  await expect(page.locator("#rank-11")).toBeInViewport();

  // "Not interested": a POST form; the server redirects back to the same list, without the item.
  const dismissed = ids[1]!;
  const title = (await cards.nth(1).locator(".card-title").textContent())!.trim();
  await page.getByRole("button", { name: `Not interested in ${title}` }).click();
  await expect(page).toHaveURL(/[?&]pages=2/);
  await expect(page.locator(`#recommendation-list > li[data-item="${dismissed}"]`)).toHaveCount(0);
  await expect(cards).toHaveCount(20);
  await context.close();
});

test("chips: a quoted comma stays in the chip, and leaving with unsaved chips asks first", async ({ page }) => {
  await signInUser(page, "chips");
  const box = page.getByLabel("Interests", { exact: true });
  // Typed key by key: the comma inside the quotes does not add a chip.
  await box.pressSequentially('"Paris, Texas"');
  await box.press("Enter");
  await box.pressSequentially("jazz,");
  const chips = page.getByRole("list", { name: "Added interests" }).locator(".chip span");
  await expect(chips).toHaveText(["Paris, Texas", "jazz"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  await expect(page.locator("#recommendation-list > li.card")).toHaveCount(10);
  await page.reload();
  await hydrated(page);
  await expect(chips).toHaveText(["Paris, Texas", "jazz"]);

  // An unsaved chip: the browser asks before the page goes.
  await addChips(page, "Interests", ["gliders"]);
  const dialog = page.waitForEvent("dialog");
  await page.close({ runBeforeUnload: true });
  const d = await dialog;
  expect(d.type()).toBe("beforeunload");
  await d.accept();
});
