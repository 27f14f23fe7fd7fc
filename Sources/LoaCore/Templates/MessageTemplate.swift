/// A message text with placeholders: `{commune}`, `{date}`. `{{` and `}}` stand for literal braces.
public struct MessageTemplate: Equatable, Sendable {
    public enum Piece: Equatable, Sendable {
        case literal(String)
        case placeholder(String)
    }

    public let source: String
    public let pieces: [Piece]

    /// Placeholder names in order of first appearance.
    public var placeholders: [String] {
        var seen: Set<String> = []
        return pieces.compactMap { if case .placeholder(let n) = $0, seen.insert(n).inserted { return n } else { return nil } }
    }

    /// Parses `source`. Names are letters, digits and `_`, starting with a letter or `_`.
    public init(_ source: String) throws(TemplateError) {
        let text = NFC.normalize(source)
        self.source = text
        var pieces: [Piece] = []
        var literal = String.UnicodeScalarView()
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func col(_ index: Int) -> Int { index + 1 }
        while i < scalars.count {
            let s = scalars[i]
            if s == "{" {
                if i + 1 < scalars.count, scalars[i + 1] == "{" { literal.append("{"); i += 2; continue }
                guard let close = scalars[(i + 1)...].firstIndex(of: "}") else {
                    throw .unclosedPlaceholder(column: col(i))
                }
                let name = String(String.UnicodeScalarView(scalars[(i + 1)..<close]))
                guard Self.isValidName(name) else { throw .invalidPlaceholderName(name, column: col(i)) }
                if !literal.isEmpty { pieces.append(.literal(String(literal))); literal = String.UnicodeScalarView() }
                pieces.append(.placeholder(name))
                i = close + 1
            } else if s == "}" {
                if i + 1 < scalars.count, scalars[i + 1] == "}" { literal.append("}"); i += 2; continue }
                throw .unmatchedClosingBrace(column: col(i))
            } else {
                literal.append(s)
                i += 1
            }
        }
        if !literal.isEmpty { pieces.append(.literal(String(literal))) }
        self.pieces = pieces
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.value < 0x80 && first.properties.isAlphabetic) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.value < 0x80 && ($0.properties.isAlphabetic || $0.properties.numericType != nil)) }
    }

    /// Renders with `values`; every placeholder needs a value.
    public func render(_ values: [String: String]) throws(TemplateError) -> String {
        let missing = placeholders.filter { values[$0] == nil }
        if !missing.isEmpty { throw .missingValues(missing) }
        var out = ""
        for piece in pieces {
            switch piece {
            case .literal(let s): out += s
            case .placeholder(let n): out += values[n]!
            }
        }
        return NFC.normalize(out)
    }

    /// The costliest rendering over the possible values of each placeholder, and its size.
    ///
    /// The whole message is UCS-2 if the template text or any possible value needs it; then each
    /// placeholder takes its longest value in that encoding's units. Segments are counted on that
    /// rendered text, so escape and surrogate pairs at part boundaries are exact.
    public func worstCase(_ candidates: [String: [String]]) throws(TemplateError) -> (text: String, measure: TextMeasure) {
        let missing = placeholders.filter { (candidates[$0] ?? []).isEmpty }
        if !missing.isEmpty { throw .missingValues(missing) }
        let literalText = pieces.map { if case .literal(let s) = $0 { s } else { "" } }.joined()
        var encoding = SMSEncoder.measure(literalText).encoding
        for name in placeholders where encoding == .gsm7 {
            if candidates[name]!.contains(where: { SMSEncoder.measure($0).encoding == .ucs2 }) { encoding = .ucs2 }
        }
        var chosen: [String: String] = [:]
        for name in placeholders {
            chosen[name] = candidates[name]!.max { a, b in
                let ua = SMSEncoder.measure(a), ub = SMSEncoder.measure(b)
                return (encoding == .gsm7 ? ua.units : utf16Count(a)) < (encoding == .gsm7 ? ub.units : utf16Count(b))
            }
        }
        let text = try render(chosen)
        return (text, SMSEncoder.measure(text))
    }

    private func utf16Count(_ s: String) -> Int { NFC.normalize(s).utf16.count }
}

public enum TemplateError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingValues([String])
    case unclosedPlaceholder(column: Int)
    case unmatchedClosingBrace(column: Int)
    case invalidPlaceholderName(String, column: Int)

    public var description: String {
        switch self {
        case .missingValues(let names):
            return "no value for placeholder" + (names.count > 1 ? "s " : " ") + names.map { "{\($0)}" }.joined(separator: ", ")
        case .unclosedPlaceholder(let c): return "column \(c): '{' opens a placeholder that is never closed (write '{{' for a literal brace)"
        case .unmatchedClosingBrace(let c): return "column \(c): '}' without a matching '{' (write '}}' for a literal brace)"
        case .invalidPlaceholderName(let n, let c): return "column \(c): '{\(n)}' is not a placeholder name (letters, digits and _, e.g. {commune})"
        }
    }
}
