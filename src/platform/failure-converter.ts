/*
 * The failure converter of encrypting deployments: a failure's message and stack trace move into its encoded
 * attributes, a payload the codec encrypts like any other, so Temporal stores "Encoded failure" instead of
 * the text (vendor answers and addresses end up in messages). Workers load this file by path, into the
 * workflow bundle and with require() beside it, so it holds plain JavaScript syntax only: no type annotations.
 */
import { DefaultFailureConverter } from '@temporalio/common';

/** Read by the Temporal SDK through `failureConverterPath`. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
