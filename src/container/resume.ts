// resume lives with pause (pause.ts): one freezer, two directions.
export { resumeContainer } from './pause.js';
