import { expect, test, type Page } from "@playwright/test";
import { adminPassword, hydrated } from "./helpers";

async function adminClicks(page: Page): Promise<number> {
  await page.goto("/admin");
  await hydrated(page);
  const signIn = page.getByRole("button", { name: "Sign in" });
  if (await signIn.isVisible()) {
    await page.getByLabel("Admin name").fill("admin");
    await page.getByLabel("Password").fill(adminPassword);
    await signIn.click();
  }
  const clicks = page.locator('[data-stat="clicks"] .stat-value');
  await expect(clicks).toBeVisible();
  return Number(await clicks.textContent());
}

test("the home page is rendered on the server", async ({ request }) => {
  const res = await request.get("/");
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain("Recommendations by meaning");
  expect(html).toContain('id="handle"');
});

test("interests → 10 recommendations → click → the dashboard counts it", async ({ page, browser }) => {
  const admin = await browser.newPage();
  const before = await adminClicks(admin);

  await page.goto("/");
  await hydrated(page);
  await page.getByLabel("Your handle").fill(`e2e-${Date.now()}`);
  await page.getByRole("button", { name: "Continue" }).click();

  await page.getByLabel(/Interests/).fill("aircraft, fighter pilots");
  await page.getByRole("button", { name: "Save and recommend" }).click();

  const cards = page.locator("ol.cards > li.card");
  await expect(cards).toHaveCount(10);
  // Meaning, not shared words: an aviation film should be among them.
  const top3 = (await cards.allTextContents()).slice(0, 3).join(" | ");
  expect(top3).toMatch(/pilot|plane|aircraft|aviat|flying|flight|airline/i);
  await expect(cards.first().locator(".because")).toContainText(/interest/);

  const first = cards.first().locator(".card-title");
  const title = (await first.textContent())!.trim();
  await first.click();
  await expect(page).toHaveURL(/\/item\/.+\?imp=/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(title);

  const after = await adminClicks(admin);
  expect(after).toBe(before + 1);
});

test("admin pages require sign-in and admin server functions answer 401", async ({ page, request }) => {
  await page.goto("/admin");
  await expect(page.getByRole("heading", { name: "Admin sign-in" })).toBeVisible();
  const html = await (await request.get("/admin")).text();
  expect(html).not.toContain('data-stat="clicks"');
  const res = await request.post("/api/get_dashboard", { headers: { "content-type": "application/x-www-form-urlencoded" }, data: "" });
  expect(res.status()).toBe(401);
});

test("a cross-origin POST to a server function is refused", async ({ request }) => {
  const res = await request.post("/api/sign_in", {
    headers: { origin: "http://evil.example", "content-type": "application/x-www-form-urlencoded" },
    data: "handle=mallory",
  });
  expect(res.status()).toBe(403);
});
