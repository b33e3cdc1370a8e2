/** Upper-cases its input, proving an activity task went through matching and back. */
export async function shout(text: string): Promise<string> {
  return Promise.resolve(`${text.toUpperCase()}!`);
}
