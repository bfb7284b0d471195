// docs/report.png for the README, from the screenshot the browser test saves
// (npx vitest run test/browser/report.test.ts → test-artifacts/report.png): palette PNG, kept small.
import sharp from "sharp";

const input = process.argv[2] ?? "test-artifacts/report.png";
const info = await sharp(input).resize({ width: 1024, withoutEnlargement: true }).png({ palette: true, colours: 96, effort: 10 }).toFile("docs/report.png");
console.log(`docs/report.png ${info.width}×${info.height}, ${(info.size / 1024).toFixed(0)} KiB`);
