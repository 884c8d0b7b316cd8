package chat

import (
	"strings"
	"testing"
)

// blockedForTest is every extension the upload check must refuse, written
// out again (not read from dangerousExts), so that an entry dropped from the
// list fails here.
var blockedForTest = strings.Fields(`
	accda accdb accde accdr action ad ade adp app appcontent-ms appinstaller
	application appref-ms appx appxbundle apk applescript as asp aspx asx bas
	bash bat caction cdr cdxml cer cfg chi chm class cmd cnt com command
	configprofile cpgz cpi cpl crt crx csh dart dc42 definition deb der
	desktop dex diagcab diskcopy42 dll dmg dmgpart drv dvdr dylib efi eml exe
	fileloc fon fxp gadget grp hlp hpj hta htc htt img imgpart inf ini ins
	internetconnect inx isp isu its jar jnlp job js jse ksh lnk local mad maf
	mag mam manifest maq mar mas mat mau mav maw mcf mda mdb mde mdt mdw mdz
	mht mhtml mmc mobileconfig mof mpkg msc msg msh msh1 msh1xml msh2 msh2xml
	mshxml msi msix msixbundle msp mst ndif networkconnect ocx ops osas osax
	osd out oxt paf partial pax pcd pet pif pkg pl plg prf prg ps1 ps1xml ps2
	ps2xml psc1 psc2 pssc pst pup py pyc pyd pyo pyw pyz pyzw rb reg rels rgs
	rpm run scf scpt scptd scr sct search-ms seplugin service settingcontent-ms
	sh shar shb shs slk slp smi sparsebundle sparseimage spl swf sys tcsh tmp
	toast u3p udif udl url vb vbe vbp vbs vbscript vdx vhd vhdx vsd vsdm
	vsdx vsmacros vss vssm vssx vst vstm vstx vsw vsx vtx webloc webpnp website
	wflow workflow ws wsb wsc wsf wsh xbap xip xll xnk xrm-ms`)

func TestDangerousExtensionsAreRefused(t *testing.T) {
	// The findings that led to the list: each must be in it.
	for _, e := range []string{"hta", "lnk", "wsf", "vbe", "jse", "cpl", "pif", "reg"} {
		if !dangerousExts[e] {
			t.Errorf("%s is not in the list", e)
		}
	}
	want := map[string]bool{}
	for _, ext := range blockedForTest {
		want[ext] = true
		upper := strings.ToUpper(ext)
		mixed := strings.ToUpper(ext[:1]) + ext[1:]
		for _, name := range []string{
			"x." + ext, "x." + upper, "x." + mixed, // any case
			"notes.pdf." + ext, "a.b.c." + upper, // double extensions: the last one counts
			"x." + ext + ".", "x." + ext + ". . ", "x." + ext + " \t", // what Windows strips
			"x." + ext + "\u200b", "x." + ext + "\u202e", "x." + ext + "\x00", // invisible tails
			"." + ext, // nothing before the dot
		} {
			if got := DangerousExt(name); got != "."+ext {
				t.Errorf("DangerousExt(%q) = %q, want %q", name, got, "."+ext)
			}
			if executableReason([]byte("harmless text"), name) == "" {
				t.Errorf("%q is accepted for upload", name)
			}
			if got := DownloadName(name); got != name+"_" || DangerousExt(got) != "" {
				t.Errorf("DownloadName(%q) = %q, which still runs", name, got)
			}
		}
	}
	for ext := range dangerousExts {
		if !want[ext] {
			t.Errorf("%s is refused but not in this test's table", ext)
		}
	}
	// Names that are documents, data or archives, or where the dangerous
	// part is not the last extension.
	for _, name := range []string{
		"report.pdf", "essay.docx", "data.csv", "data.json", "page.xml", "style.xsl", "schema.xsd",
		"photo.png", "archive.zip", "slides.pptx", "notes.txt", "x.exe.pdf", "x.exe_", "exe", "hta",
		"setup exe", "x.jsx", "x.shtml", "x.htm", "", ".", "x.", "x.sh.txt", "x.lnk2",
	} {
		if got := DangerousExt(name); got != "" {
			t.Errorf("DangerousExt(%q) = %q, want none", name, got)
		}
		if DownloadName(name) != name {
			t.Errorf("DownloadName(%q) = %q", name, DownloadName(name))
		}
	}
}
