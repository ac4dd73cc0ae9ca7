import path from "node:path";

import { expect, test } from "@playwright/test";

import { addChips, hydrated, openDashboard, signInUser } from "./helpers";

// Regenerates docs/screenshots/*.png with real demo data. Run it alone, on the fresh
// database e2e.sh starts (other specs import test items into the catalog):
//   SCREENSHOTS=1 scripts/e2e.sh "$CARGO_TARGET_DIR/debug/semrec" tests/screenshots.spec.ts
const out = path.resolve(__dirname, "../../docs/screenshots");

test.skip(!process.env.SCREENSHOTS, "set SCREENSHOTS=1 to regenerate docs/screenshots");

test("screenshots of the recommendations page and the dashboard", async ({ browser }) => {
  test.setTimeout(300_000);
  const people: [string[], number[]][] = [
    [["space exploration", "astronauts"], [0, 2]],
    [["jazz", "musicians"], [1]],
    [["heist", "bank robbery"], [0, 1, 3]],
    [["fighter pilots", "aircraft"], []],
    [["animation", "toys that come alive"], [0]],
  ];
  for (const [interests, clicks] of people) {
    const page = await browser.newPage();
    await signInUser(page, "demo");
    await addChips(page, "Interests", interests);
    await page.getByRole("button", { name: "Save and recommend" }).click();
    const cards = page.locator("#recommendation-list > li.card");
    await expect(cards).toHaveCount(10);
    for (const i of clicks) {
      await cards.nth(i).locator(".card-title").click();
      await expect(page).toHaveURL(/\/item\//);
      await page.goBack();
      await hydrated(page);
      await expect(cards).toHaveCount(10);
    }
    await page.close();
  }

  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await signInUser(page, "ada");
  await addChips(page, "Interests", ["aircraft", "space exploration"]);
  await addChips(page, "Classes you follow", ["history of aviation"]);
  await page.getByLabel("About you").fill("I love stories about flying and the people who do it.");
  await page.getByRole("button", { name: "Save and recommend" }).click();
  await expect(page.locator("#recommendation-list > li.card")).toHaveCount(10);
  await page.screenshot({ path: path.join(out, "recommendations.png") });

  const admin = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await openDashboard(admin);
  await admin.screenshot({ path: path.join(out, "dashboard.png"), fullPage: true });
});
