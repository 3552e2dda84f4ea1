// Types for the part of mime-types we use: the Content-Type for a file name's extension.
declare module 'mime-types' {
  const mime: {
    /** `text/css; charset=utf-8` for 'site.css' (a charset for text types); false when unknown. */
    contentType(filenameOrExtension: string): string | false;
  };
  export default mime;
}
