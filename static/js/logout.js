// Script of the /logout page: tells the other tabs of this browser that the
// session is ending, so their auth-fetch.js sends them to the login page at
// once instead of at their next API call.
import { announceLogout } from './auth-fetch.js';

const form = document.querySelector('form[action="/logout"]');
form?.addEventListener('submit', () => announceLogout());
