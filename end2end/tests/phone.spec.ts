import { expect, test } from "@playwright/test";

import { addChips, hydrated, signInUser } from "./helpers";

test("on a phone the list comes first, the profile is one tap away, and targets are 44 px", async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, hasTouch: true });
  await signInUser(page, "phone-layout");
  await addChips(page, "Interests", ["jazz", "space exploration"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);

  // A fresh visit, scrolled to the top: the first card is on the first screen.
  await page.goto("/");
  await hydrated(page);
  expect(await page.evaluate(() => window.scrollY)).toBe(0);
  await expect(cards.first()).toBeInViewport({ ratio: 1 });
  const profileHeading = page.getByRole("heading", { name: "Your profile" });
  await expect(profileHeading).not.toBeInViewport();

  // Tap targets: the card's actions, the chips' remove buttons, the main buttons.
  const tall = async (name: string, loc: ReturnType<typeof page.locator>) => {
    const box = await loc.boundingBox();
    expect(box, name).not.toBeNull();
    expect(box!.height, `${name} height`).toBeGreaterThanOrEqual(44);
    expect(box!.width, `${name} width`).toBeGreaterThanOrEqual(44);
  };
  await tall("More like this", cards.first().getByRole("link", { name: "More like this" }));
  await tall("Not interested", cards.first().getByRole("button", { name: /^Not interested in / }));
  await tall("Edit profile", page.getByRole("link", { name: "Edit profile" }));
  await tall("Show more", page.getByRole("button", { name: "Show more" }));
  await tall("Remove jazz", page.getByRole("button", { name: "Remove jazz" }));
  await tall("Save and recommend", page.getByRole("button", { name: "Save and recommend" }));
  await tall("Sign out", page.getByRole("button", { name: "Sign out" }));

  // One tap to the profile (a plain anchor).
  await page.getByRole("link", { name: "Edit profile" }).tap();
  await expect(page).toHaveURL(/#profile$/);
  await expect(profileHeading).toBeInViewport();
  await expect(page.getByLabel("Interests", { exact: true })).toBeInViewport();
  await page.close();
});

test("on a wide screen the list and the profile sit side by side", async ({ browser }) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signInUser(page, "wide-layout");
  await addChips(page, "Interests", ["jazz"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  await expect(page.locator("#recommendation-list > li.card")).toHaveCount(10);
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByRole("link", { name: "Edit profile" })).toBeHidden();
  await expect(page.locator("#recommendation-list > li.card").first()).toBeInViewport();
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeInViewport();
  await page.close();
});
