import Foundation
import FoundationXML
import LoaCore

/// Reads CAP 1.2 XML with Foundation's XMLParser.
public final class CAPReader: NSObject, XMLParserDelegate {
    var alert = CAPAlert()
    private var info: CAPAlert.Info?
    private var area: CAPAlert.Area?
    private var geocodeName = ""
    private var text = ""
    private var problems: [String] = []
    private var parser: XMLParser?

    static let namespace = "urn:oasis:names:tc:emergency:cap:1.2"

    public static func read(_ path: String) throws -> CAPAlert { try read(bytes: readFileBytes(path), path: path) }

    /// An alert's bytes, as if read from `path` (named in every problem).
    public static func read(bytes: [UInt8], path: String) throws -> CAPAlert {
        // Found by fuzzing: bytes that are not UTF-8 in an element's name crash Foundation's
        // XMLParser. A CAP alert is UTF-8 text; anything else is refused before parsing.
        guard String(validating: bytes, as: UTF8.self) != nil else {
            let offset = invalidUTF8Offset(bytes)
            throw OperationError(.notReadable, "\(path): error: not UTF-8 text (byte \(offset + 1) is not valid UTF-8); a CAP alert is UTF-8 XML")
        }
        guard bytes.count <= 4 << 20 else { throw OperationError(.notReadable, "\(path): error: \(bytes.count / 1024) KiB is too large for a CAP alert (at most 4 MiB)") }
        try checkEntities(bytes, path: path)
        let data = Data(bytes)
        let reader = CAPReader()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.delegate = reader
        reader.parser = parser
        guard parser.parse() else {
            if !reader.problems.isEmpty { throw OperationError(.notReadable, reader.problems.map { "\(path):\($0)" }.joined(separator: "\n")) }
            throw OperationError(.notReadable, "\(path):\(parser.lineNumber):\(parser.columnNumber): error: not well-formed XML: \(parser.parserError?.localizedDescription ?? "unknown")")
        }
        if !reader.problems.isEmpty { throw OperationError(.notReadable, reader.problems.map { "\(path):\($0)" }.joined(separator: "\n")) }
        if reader.alert.identifier.isEmpty { throw OperationError(.notReadable, "\(path): error: not a CAP 1.2 alert (no <alert><identifier>)") }
        return reader.alert
    }

    /// Where the first byte that is not UTF-8 is (0-based).
    static func invalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput, .error: return offset
            }
        }
    }

    /// A CAP alert has no document type and no entities of its own: a DTD (external entities,
    /// entity expansion bombs) is refused, and so is a reference to an entity XML does not
    /// define (it would otherwise read as empty text).
    static func checkEntities(_ bytes: [UInt8], path: String) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        if text.range(of: "<!DOCTYPE", options: .caseInsensitive) != nil || text.range(of: "<!ENTITY", options: .caseInsensitive) != nil {
            throw OperationError(.notReadable, "\(path): error: a CAP alert must not have a DOCTYPE or entity declarations")
        }
        let predefined: Set<Substring> = ["amp", "lt", "gt", "quot", "apos"]
        var line = 1
        var i = text.startIndex
        while i < text.endIndex {
            let ch = text[i]
            if ch == "\n" { line += 1 }
            if ch == "&" {
                let rest = text[text.index(after: i)...]
                guard let semicolon = rest.prefix(40).firstIndex(of: ";") else { throw OperationError(.notReadable, "\(path):\(line): error: a '&' that starts no entity reference (write &amp;)") }
                let name = rest[rest.startIndex..<semicolon]
                let numeric = name.hasPrefix("#x") ? name.dropFirst(2).allSatisfy(\.isHexDigit) && name.count > 2 : name.hasPrefix("#") && name.count > 1 && name.dropFirst().allSatisfy(\.isNumber)
                if !numeric && !predefined.contains(name) {
                    throw OperationError(.notReadable, "\(path):\(line): error: the entity &\(Escaped(String(name)));  is not defined (CAP uses only &amp; &lt; &gt; &quot; &apos; and character references)")
                }
            }
            i = text.index(after: i)
        }
    }

    private var depth = 0

    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        defer { depth += 1 }
        if depth == 0 && (name != "alert" || namespaceURI != Self.namespace) {
            problems.append("\(parser.lineNumber): error: not a CAP 1.2 alert: the root element must be <alert xmlns=\"\(Self.namespace)\">, found <\(Escaped(qualifiedName ?? name))> in namespace \(Escaped(namespaceURI ?? "(none)"))")
            parser.abortParsing()
            return
        }
        text = ""
        switch name {
        case "info": info = CAPAlert.Info()
        case "area": area = CAPAlert.Area(description: "")
        default: break
        }
    }

    public func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    public func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        depth -= 1
        let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let line = parser.lineNumber
        if var a = area {
            switch name {
            case "areaDesc": a.description = value
            case "polygon":
                if let p = CAPAlert.parsePolygon(value) { a.polygons.append(p) } else { problems.append("\(line): error: <polygon> must be at least 4 'lat,lon' pairs separated by spaces, the first repeated last, latitudes -90..90, longitudes -180..180") }
            case "circle":
                if let c = CAPAlert.parseCircle(value) { a.circles.append((c.0, c.1)) } else { problems.append("\(line): error: <circle> must be 'lat,lon radius_km' with a valid point and a radius above 0 and at most 500 km") }
            case "valueName": geocodeName = value
            case "value": a.geocodes.append((geocodeName, value))
            case "area": info?.areas.append(a); area = nil; return
            default: break
            }
            area = a
            return
        }
        if var i = info {
            switch name {
            case "language": i.language = value
            case "event": i.event = value
            case "urgency": i.urgency = value
            case "severity": i.severity = value
            case "certainty": i.certainty = value
            case "senderName": i.senderName = value
            case "headline": i.headline = value
            case "description": i.description = value
            case "instruction": i.instruction = value
            case "effective": i.effective = value
            case "onset": i.onset = value
            case "expires": i.expires = value
            case "info": alert.infos.append(i); info = nil; return
            default: break
            }
            info = i
            return
        }
        switch name {
        case "identifier": alert.identifier = value
        case "sender": alert.sender = value
        case "sent": alert.sent = value
        case "status": alert.status = value
        case "msgType": alert.msgType = value
        case "references": alert.references = value
        default: break
        }
    }
}
