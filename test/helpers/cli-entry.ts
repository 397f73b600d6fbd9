/** Entry point for child-process CLI tests: runs the CLI from src (via tsx), so no build is needed. */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
