/** An enrolment entry: `voice` (every subject) or `subject:voice`. */
export function parseEnrolment(entry: string): { subject?: string; voice: string } | undefined {
  const text = entry.trim();
  const colon = text.indexOf(':');
  if (colon < 0) return text ? { voice: text } : undefined;
  const subject = text.slice(0, colon).trim();
  const voice = text.slice(colon + 1).trim();
  return subject && voice ? { subject, voice } : undefined;
}
