/** Makes the benchmark images and stages the function (bundle + model) once for all parts. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { WORK, log, prepareImages, stageTask } from "./common.js";

const images = await prepareImages();
writeFileSync(join(WORK, "images.json"), JSON.stringify(images, null, 2));
const dir = await stageTask();
log(`staged the function in ${dir}; ${images.length} images in bench/.work/images`);
