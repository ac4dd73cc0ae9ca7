import { expect, test } from "@playwright/test";

import { addChips, importThroughBrowser, signInUser } from "./helpers";

const run = Date.now();
// The MovieLens genres the demo catalog stores in metadata.genres.
const GENRES = new Set([
  "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
  "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
  "Thriller", "War", "Western",
]);

test("cards show genres, never raw user tags, and the language only when it is not the usual one", async ({
  page,
  browser,
}) => {
  // Demo item ml-2730 (Barry Lyndon): genres Drama, Romance, War; user tags "getdvd", "holes70s".
  await signInUser(page, "labels");
  await addChips(page, "Interests", ["Kubrick's 18th-century Irish rogue who marries a rich widow"]);
  await page.getByRole("button", { name: "Save and recommend" }).click();
  const cards = page.locator("#recommendation-list > li.card");
  await expect(cards).toHaveCount(10);
  const barry = page.locator('#recommendation-list > li[data-item="ml-2730"]');
  await expect(barry.getByRole("list", { name: "Genres" }).locator("li")).toHaveText(["Drama", "Romance", "War"]);
  await expect(barry).not.toContainText("getdvd");
  await expect(barry).not.toContainText("holes70s");
  // Every label on every demo card is a genre: no source ("wikipedia"), no "en" on English items.
  for (const label of await cards.locator(".meta li").allTextContents()) {
    expect(GENRES.has(label.trim()), `label "${label}"`).toBe(true);
  }
  await expect(page.locator("#recommendation-list")).not.toContainText("getdvd");

  // The item page: genres and language, no raw tags.
  await page.goto("/item/ml-2730");
  await expect(page.getByRole("heading", { name: "Barry Lyndon (1975)" })).toBeVisible();
  await expect(page.locator("article").getByRole("list", { name: "Genres" }).locator("li")).toHaveText([
    "Drama",
    "Romance",
    "War",
  ]);
  await expect(page.locator("article")).not.toContainText("getdvd");

  // An item in another language says so; its own tags still are not shown.
  const admin = await browser.newPage();
  const id = `e2e-labels-${run}`;
  const line = JSON.stringify({
    id,
    title: `Le duel des aviateurs ${run}`,
    description: "Deux pilotes d'avion de chasse rivaux se battent en duel au-dessus des nuages.",
    language: "fr",
    source: "cinematheque",
    tags: ["getdvd", "vu a cannes"],
    metadata: { genres: ["Drama", "War"] },
  });
  const summary = await importThroughBrowser(admin, "labels.jsonl", line);
  await expect(summary.locator('[data-count="added"]')).toHaveText("1 added");
  await page.goto("/?language=fr");
  const french = page.locator(`#recommendation-list > li[data-item="${id}"]`);
  await expect(french.locator(".meta li")).toHaveText(["Drama", "War", "fr"]);
  await expect(french).not.toContainText("getdvd");
  await expect(french).not.toContainText("cinematheque");
  await admin.close();
});
