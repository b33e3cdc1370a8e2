export { freePort } from '../../tools/stack.js';
