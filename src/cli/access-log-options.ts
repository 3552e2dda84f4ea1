// Validates --access-log and --access-log-format into the instance's config, and opens the file
// once before anything starts (as the core will, by the root-safe rule of openOwnFile), so a path
// that cannot be written is refused with nothing left running.

import path from 'node:path';
import { ACCESS_LOG_FORMATS, appUserIds, type AccessLogConfig, type AccessLogFormat, type FerryConfig } from '../lib/config.js';
import { openOwnFile, UnsafeFileError, type OwnFile } from '../lib/own-files.js';
import { CliError, cliErrorFromPayload } from './errors.js';

function usage(message: string, suggestion: string): CliError {
  return new CliError('FERRY_ERR_CONFIG_INVALID', message, [suggestion]);
}

/**
 * The access log's config, or undefined when there is none. `logFile`: where the instance's own
 * log goes (undefined: stdout), which '-' would share.
 */
export function buildAccessLog(given: { accessLog?: string; accessLogFormat?: string; direct?: boolean }, logFile: string | undefined): AccessLogConfig | undefined {
  const { accessLog, accessLogFormat } = given;
  if (accessLogFormat !== undefined && !(ACCESS_LOG_FORMATS as readonly string[]).includes(accessLogFormat)) {
    throw usage(`--access-log-format '${accessLogFormat}' is not one of ${ACCESS_LOG_FORMATS.join(', ')}`, 'Use --access-log-format combined (what log tools read) or json.');
  }
  if (accessLog === undefined) {
    if (accessLogFormat !== undefined) throw usage('--access-log-format needs --access-log', 'Add --access-log FILE (or - for standard output).');
    return undefined;
  }
  if (accessLog === '') throw usage('--access-log needs a file, or - for standard output', 'For example: --access-log /var/log/ferry/access.log');
  if (given.direct) throw usage('--access-log needs the core in the request path; --direct has none', 'Drop --direct, or log requests in the app.');
  const format: AccessLogFormat = (accessLogFormat as AccessLogFormat | undefined) ?? 'combined';
  if (accessLog === '-') {
    if (logFile !== undefined) {
      throw usage(
        `--access-log - writes to standard output, which is the log file ${logFile} here`,
        'Give the access log a file of its own: --access-log FILE (- is for a foreground start without --log-file, or under systemd).',
      );
    }
    return { path: '-', format };
  }
  const file = path.resolve(accessLog);
  if (file === logFile) throw usage(`--access-log ${file} is the log file too`, 'Give the access log a file of its own.');
  return { path: file, format };
}

/** Opens (and creates) the access log file as the core will; the caller closes it. */
export function openAccessLogFile(access: AccessLogConfig, config: Pick<FerryConfig, 'apps'>): OwnFile | undefined {
  if (access.path === '-') return undefined;
  try {
    return openOwnFile(access.path, 'access', appUserIds(config));
  } catch (err) {
    if (err instanceof UnsafeFileError) throw cliErrorFromPayload(err.toPayload());
    throw new CliError('FERRY_ERR_FILE_UNWRITABLE', `cannot open access log ${access.path}: ${(err as Error).message}`, ['Pass a writable path with --access-log.']);
  }
}
