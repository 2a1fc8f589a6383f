// scheme://user[:password]@ — the user-info of any URL in free text.
const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

/** `http://user:secret@host` → `http://***@host`, for every URL in `text`. */
export function maskUrlUserInfo(text: string): string {
  return text.includes('@') ? text.replace(URL_USER_INFO, '$1***@') : text;
}
