/** How a JWT is checked: HS256 with a shared secret, or RS256/ES256 with keys published at a JWKS URL. */
export type JwtSettings = { issuer: string; audience: string } & ({ secret: string; jwksUrl?: undefined } | { jwksUrl: string; secret?: undefined });
