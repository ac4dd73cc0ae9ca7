import { expect, test } from "@playwright/test";

import { addChips, hydrated, signInUser } from "./helpers";

test("👍 on a card adds it to the profile's history; “Seen it” on an item page keeps it out of the list", async ({
  page,
}) => {
  await signInUser(page, "thumbs");
  await addChips(page, "Interests", ["submarine warfare"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  const ids = await cards.evaluateAll((els) => els.map((e) => e.getAttribute("data-item")));
  const card = (id: string) => page.locator(`#recommendation-list > li[data-item="${id}"]`);
  const titleOf = async (id: string) => (await card(id).locator(".card-title").textContent())!.trim();
  const liked = await titleOf(ids[0]!);

  await page.getByRole("button", { name: `I liked ${liked}`, exact: true }).click();
  await expect(card(ids[0]!)).toHaveCount(0);
  await expect(page.locator(".toast")).toContainText(`Added “${liked}” to the things you enjoyed.`);
  await expect(card(ids[1]!).locator(".card-title")).toBeFocused();
  // The profile's history has it, as a catalogue item.
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole("list", { name: "Added things you enjoyed" }).locator(".chip.from-catalog")).toHaveText([
    `${liked}×`,
  ]);
  await expect(card(ids[0]!)).toHaveCount(0);

  // "Seen it" from an item page (opened by its address: no click recorded, which
  // would leave it out of new lists by itself): a plain form, the server
  // redirects back to the page.
  const seenId = (await cards.first().getAttribute("data-item"))!;
  const seen = await titleOf(seenId);
  await page.goto(`/item/${encodeURIComponent(seenId)}`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(seen);
  await page.getByRole("button", { name: `I've seen ${seen}`, exact: true }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(seen);
  await page.goto("/");
  await hydrated(page);
  await expect(cards).toHaveCount(10);
  await expect(card(seenId)).toHaveCount(0);
});
