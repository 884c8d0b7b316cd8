// The application's one attachment tray store (see uploads.svelte.ts).
import { app } from './chat.svelte';
import { Uploads } from './uploads.svelte';

export const uploads = new Uploads(app.api);
