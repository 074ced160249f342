// openai_client_check.mjs: does the official OpenAI Node SDK (npm package
// `openai`) work unchanged against `cpurich serve`?
//
// The SDK is used exactly as against api.openai.com; only baseURL points at
// the local server. It checks, in order: the model list, a completion, a
// chat completion, the same chat completion and completion streamed (the
// SDK's server-sent event parser, `for await` over chunks) giving the same
// text as the non-streamed ones for the same seed, and two errors surfacing
// as the SDK's own error classes: an unknown model (APIError, status 404,
// NotFoundError) and a wrong API key (status 401, AuthenticationError).
//
// Run by scripts/openai_client_check.sh, which starts the server and
// installs the SDK; not part of ctest / CI (it needs npm and the network).
// Environment: CPURICH_BASE_URL (http://127.0.0.1:PORT/v1), CPURICH_API_KEY,
// CPURICH_MODEL (the served base model's name).
import OpenAI from 'openai';

const baseURL = process.env.CPURICH_BASE_URL;
const apiKey = process.env.CPURICH_API_KEY;
const model = process.env.CPURICH_MODEL;
if (!baseURL || !apiKey || !model) {
  console.error('set CPURICH_BASE_URL, CPURICH_API_KEY and CPURICH_MODEL');
  process.exit(2);
}

const client = new OpenAI({baseURL, apiKey, maxRetries: 0});
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures += 1;
}

// 1. GET /v1/models
const models = await client.models.list();
const ids = models.data.map((m) => m.id);
check(ids.includes(model), `models.list() lists ${JSON.stringify(ids)}`);

// 2. POST /v1/completions, then the same request streamed.
const completionParams = {model, prompt: 'Once upon a time', max_tokens: 24, seed: 1, temperature: 0.8};
const completion = await client.completions.create(completionParams);
const text = completion.choices[0].text;
check(completion.object === 'text_completion' && text.length > 0,
      `completions.create() -> ${JSON.stringify(text)} (${completion.choices[0].finish_reason}, ` +
          `${completion.usage.completion_tokens} tokens)`);
let streamedText = '';
for await (const chunk of await client.completions.create({...completionParams, stream: true})) {
  streamedText += chunk.choices[0]?.text ?? '';
}
check(streamedText === text, `completions.create({stream: true}) -> ${JSON.stringify(streamedText)}`);

// 3. POST /v1/chat/completions, then the same request streamed.
const chatParams = {
  model,
  messages: [{role: 'system', content: 'Answer briefly.'}, {role: 'user', content: 'Hello there'}],
  max_tokens: 24,
  seed: 3,
  temperature: 0.8,
};
const chat = await client.chat.completions.create(chatParams);
const reply = chat.choices[0].message.content;
check(chat.object === 'chat.completion' && chat.choices[0].message.role === 'assistant' &&
          typeof reply === 'string',
      `chat.completions.create() -> ${JSON.stringify(reply)} (${chat.choices[0].finish_reason})`);
let streamedReply = '';
let finish = null;
for await (const chunk of await client.chat.completions.create({...chatParams, stream: true})) {
  streamedReply += chunk.choices[0]?.delta?.content ?? '';
  finish = chunk.choices[0]?.finish_reason ?? finish;
}
check(streamedReply === reply && finish === chat.choices[0].finish_reason,
      `chat.completions.create({stream: true}) -> ${JSON.stringify(streamedReply)} (${finish})`);

// 4. Errors come back as the SDK's error classes with the server's status.
try {
  await client.chat.completions.create({...chatParams, model: 'no-such-model'});
  check(false, 'an unknown model is refused');
} catch (e) {
  check(e instanceof OpenAI.APIError && e instanceof OpenAI.NotFoundError && e.status === 404,
        `unknown model -> ${e.constructor.name} ${e.status}: ${e.message}`);
}
try {
  await new OpenAI({baseURL, apiKey: 'wrong-key', maxRetries: 0}).models.list();
  check(false, 'a wrong API key is refused');
} catch (e) {
  check(e instanceof OpenAI.AuthenticationError && e.status === 401,
        `wrong API key -> ${e.constructor.name} ${e.status}: ${e.message}`);
}

console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
